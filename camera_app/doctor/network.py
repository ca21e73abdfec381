"""Doctor checks that talk to the network: the MQTT broker (TCP connect and
an MQTT CONNECT with the configured login) and the web preview's port
(bindable, or already served by camera-app). Every wait has a timeout.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from camera_app.doctor import Check, fail, ok
from camera_app.doctor.app import section

MQTT_PASSWORD_ENV = "CAMERA_APP_MQTT_PASSWORD"


def _connect_error(where: str, e: BaseException, timeout_s: float) -> str:
    if isinstance(e, socket.gaierror):
        return f"{where}: cannot resolve the host name ({e.strerror})"
    if isinstance(e, ConnectionRefusedError):
        return f"{where}: connection refused (is the broker running?)"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"{where}: no answer within {timeout_s:g} s"
    if isinstance(e, ssl.SSLError):
        return f"{where}: TLS failed: {e.reason or e}"
    return f"{where}: {getattr(e, 'strerror', None) or e}"


def check_mqtt(
    config: Any, timeout_s: float = 5.0, environ: Mapping[str, str] = os.environ
) -> Check:
    """TCP connect and an MQTT CONNECT with the configured login."""
    m = section(config, "sinks.mqtt") if config is not None else None
    host = getattr(m, "host", None)
    if host is None:
        return ok("mqtt", "not configured")
    import paho.mqtt.client as mqtt

    tls = bool(getattr(m, "tls", False))
    port = getattr(m, "port", None) or (8883 if tls else 1883)
    user = getattr(m, "username", None)
    password = getattr(m, "password", None) or environ.get(MQTT_PASSWORD_ENV)
    where = f"{f'[{host}]' if ':' in host else host}:{port}"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"camera-app-doctor-{os.getpid()}"
    )
    client.connect_timeout = timeout_s
    if user is not None:
        client.username_pw_set(user, password)
    if tls:
        try:
            client.tls_set(ca_certs=getattr(m, "ca_file", None))
        except (OSError, ValueError) as e:
            return fail(
                "mqtt", f"TLS CA file cannot be loaded: {getattr(e, 'strerror', None) or e}"
            )
    answer: dict[str, Any] = {}
    client.on_connect = lambda c, userdata, flags, rc, props: answer.setdefault("rc", rc)
    try:
        client.connect(host, port, keepalive=max(5, int(timeout_s) * 2))
    except (OSError, ValueError) as e:
        return fail("mqtt", _connect_error(where, e, timeout_s))
    try:
        deadline = time.monotonic() + timeout_s
        while "rc" not in answer and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
    finally:
        client.disconnect()
        client.loop(timeout=0.1)
    if "rc" not in answer:
        return fail(
            "mqtt", f"{where}: no MQTT answer within {timeout_s:g} s (is it an MQTT broker?)"
        )
    rc = answer["rc"]
    if rc.is_failure:
        who = f" as {user}" if user else " anonymously"
        return fail("mqtt", f"{where}: the broker refused the login{who}: {rc}")
    return ok(
        "mqtt", f"{where}: connected{f' as {user}' if user else ''}{' with TLS' if tls else ''}"
    )


def _who_serves(host: str, port: int, timeout_s: float) -> str | None:
    """The Server header at ``/healthz`` (camera-app's web server says camera_app)."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    url = f"http://{f'[{probe}]' if ':' in probe else probe}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return str(r.headers.get("Server", ""))
    except urllib.error.HTTPError as e:
        e.close()
        return str(e.headers.get("Server", ""))
    except (OSError, ValueError):
        return None


def web_address(config: Any) -> tuple[str, int, str] | None:
    """(host, port, what) camera-app will serve HTTP on: ``[http] listen``
    when set, else the web preview's address when ``[preview] mode = "web"``."""
    listen = getattr(section(config, "http"), "listen", None) if config is not None else None
    if isinstance(listen, str) and listen:
        host, _, port = listen.rpartition(":")
        if port.isdigit():
            return host.strip("[]") or "0.0.0.0", int(port), "the HTTP server"
    p = section(config, "preview") if config is not None else None
    if getattr(p, "mode", None) != "web":
        return None
    host = getattr(p, "web_host", None) or "127.0.0.1"
    return host, int(getattr(p, "web_port", None) or 8080), "the web preview"


def check_web(config: Any, timeout_s: float = 5.0) -> Check:
    """The web port can be bound, or camera-app already serves it."""
    address = web_address(config)
    if address is None:
        return ok("web", "web preview off, no [http] listen")
    host, port, what = address
    where = f"{f'[{host}]' if ':' in host else host}:{port}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except socket.gaierror as e:
        return fail("web", f"{where}: cannot resolve {host} ({e.strerror})")
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            server = _who_serves(host, port, timeout_s)
            if server and server.startswith("camera_app"):
                return ok("web", f"{where} is served by camera-app already (the running service?)")
            return fail(
                "web", f"{where} is in use by another program ({server or 'not camera-app'})"
            )
        if e.errno == errno.EACCES:
            return fail("web", f"{where}: permission denied (ports below 1024 need root)")
        if e.errno == errno.EADDRNOTAVAIL:
            return fail("web", f"{where}: {host} is not an address of this machine")
        return fail("web", f"{where}: {e.strerror or e}")
    return ok("web", f"{where} is free for {what}")
