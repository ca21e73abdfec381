"""What the MQTT sink needs of paho: a client with our settings, error texts."""

from __future__ import annotations

import logging
import socket
import ssl
import zlib
from collections.abc import Callable
from typing import Any

from camera_app.errors import SinkError

paho_log = logging.getLogger("camera_app.sinks.mqtt.connection.paho")

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
MAX_IN_FLIGHT = 64
"""Messages handed to paho and not yet written (QoS 0) or acknowledged (QoS 1)."""
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
CONNECT_TIMEOUT_S = 5.0

Handler = Callable[[str, bytes, bool], None]
"""(topic, payload, retained) from paho's network thread; must not block."""


def default_port(tls: bool) -> int:
    return DEFAULT_TLS_PORT if tls else DEFAULT_PORT


def default_client_id(topic_prefix: str) -> str:
    """Stable across restarts (a restarted app takes over its old session),
    distinct per host and prefix."""
    return f"camera-app-{socket.gethostname()}-{zlib.crc32(topic_prefix.encode()):08x}"


def describe_os_error(e: BaseException | None) -> str:
    if isinstance(e, socket.gaierror):
        return f"host name not found: {e.strerror}"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT_S:g} s"
    if isinstance(e, ssl.SSLError):
        return f"TLS: {getattr(e, 'verify_message', None) or e.reason or e}"
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e) if e is not None else "connection failed"


def is_done(info: Any) -> bool:
    """A publish paho no longer holds: written (QoS 0), acknowledged (QoS 1) or failed."""
    try:
        return bool(info.is_published())
    except (RuntimeError, ValueError):
        return True


def make_client(
    client_id: str,
    *,
    will_topic: str | None,
    qos: int,
    username: str | None,
    password: str | None,
    tls: bool,
    ca_file: str | None,
    on_socket_error: Callable[[str], None],
) -> tuple[Any, Any]:
    """A paho client (and paho's module), callbacks still to be set."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError as e:
        raise SinkError(
            f"MQTT output needs the paho-mqtt package: pip install paho-mqtt ({e})"
        ) from e
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.suppress_exceptions = True  # a failing callback is logged, paho's thread lives on

    def on_log(client: Any, userdata: Any, level: int, message: str) -> None:
        # paho logs "Client is not connected" as an error on every retry.
        # Socket errors come back as our "connection lost" line; a failing
        # callback (a bug here) is an error.
        if level == mqtt.MQTT_LOG_ERR and message.startswith("Caught exception"):
            paho_log.error("MQTT (paho): %s", message)
            return
        if level == mqtt.MQTT_LOG_ERR and "socket" in message:
            on_socket_error(message)
        paho_log.debug("%s", message)

    client.on_log = on_log
    if will_topic is not None:  # a tool (mqtt-clean) has no availability
        client.will_set(will_topic, "offline", qos=qos, retain=True)
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        try:
            client.tls_set(ca_certs=ca_file)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            why = getattr(e, "strerror", None) or str(e)
            raise SinkError(
                f"MQTT: TLS CA file {ca_file or '(system default)'} cannot be loaded ({why})"
            ) from e
    client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
    client.max_queued_messages_set(MAX_IN_FLIGHT * 2)
    client.connect_timeout = CONNECT_TIMEOUT_S
    return client, mqtt
