"""camera_app.doctor.network: the MQTT and web checks, each made to fail (a
closed port, an unknown host, a server that never answers, a real broker
that refuses the login, a port taken by another program)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from camera_app.doctor.network import check_mqtt, check_web
from tests.conftest import free_port

# -- MQTT -------------------------------------------------------------------------


def mqtt_config(**kw: Any) -> Any:
    fields = {
        "host": None,
        "port": None,
        "username": None,
        "password": None,
        "tls": False,
        "ca_file": None,
    }
    return SimpleNamespace(components={"sinks.mqtt": SimpleNamespace(**{**fields, **kw})})


def test_mqtt_not_configured() -> None:
    assert check_mqtt(mqtt_config()).message == "not configured"


def test_mqtt_closed_port_fails() -> None:
    port = free_port()
    c = check_mqtt(mqtt_config(host="127.0.0.1", port=port), timeout_s=2)
    assert (c.level, c.message) == (
        "FAIL",
        f"127.0.0.1:{port}: connection refused (is the broker running?)",
    )


def test_mqtt_unknown_host_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*a: Any, **k: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    c = check_mqtt(mqtt_config(host="broker.lan"), timeout_s=2)
    assert (c.level, c.message) == (
        "FAIL",
        "broker.lan:1883: cannot resolve the host name (Name or service not known)",
    )


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (not an MQTT broker)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield int(srv.getsockname()[1])
    stop.set()
    t.join(5)
    for c in conns:
        c.close()
    srv.close()


def test_mqtt_server_that_never_answers_times_out(silent_server: int) -> None:
    c = check_mqtt(mqtt_config(host="127.0.0.1", port=silent_server), timeout_s=0.5)
    assert (c.level, c.message) == (
        "FAIL",
        f"127.0.0.1:{silent_server}: no MQTT answer within 0.5 s (is it an MQTT broker?)",
    )


def test_mqtt_real_broker_anonymous(mosquitto: Any) -> None:
    c = check_mqtt(mqtt_config(host="127.0.0.1", port=mosquitto.port))
    assert (c.level, c.message) == ("OK", f"127.0.0.1:{mosquitto.port}: connected")


def test_mqtt_real_broker_login(mosquitto_factory: Callable[..., Any]) -> None:
    broker = mosquitto_factory(users={"cam": "s3cret"}).start()
    where = f"127.0.0.1:{broker.port}"
    c = check_mqtt(
        mqtt_config(host="127.0.0.1", port=broker.port, username="cam", password="s3cret")
    )
    assert (c.level, c.message) == ("OK", f"{where}: connected as cam")
    c = check_mqtt(
        mqtt_config(host="127.0.0.1", port=broker.port, username="cam"),
        environ={"CAMERA_APP_MQTT_PASSWORD": "s3cret"},
    )
    assert c.level == "OK", "password from the environment, as the run takes it"
    c = check_mqtt(mqtt_config(host="127.0.0.1", port=broker.port, username="cam", password="nope"))
    assert c.level == "FAIL"
    assert c.message.startswith(f"{where}: the broker refused the login as cam: ")
    c = check_mqtt(mqtt_config(host="127.0.0.1", port=broker.port))
    assert c.level == "FAIL"
    assert c.message.startswith(f"{where}: the broker refused the login anonymously: ")


# -- web ----------------------------------------------------------------------------


def web_config(host: str, port: int, mode: str = "web") -> Any:
    return SimpleNamespace(
        components={"preview": SimpleNamespace(mode=mode, web_host=host, web_port=port)}
    )


def test_web_off_and_free() -> None:
    assert check_web(web_config("127.0.0.1", 1, mode="none")).message == (
        "web preview off, no [http] listen"
    )
    port = free_port()
    c = check_web(web_config("127.0.0.1", port))
    assert (c.level, c.message) == ("OK", f"127.0.0.1:{port} is free for the web preview")


def test_the_http_listen_address_wins() -> None:
    port = free_port()
    config = SimpleNamespace(
        components={
            "preview": SimpleNamespace(mode="none", web_host="127.0.0.1", web_port=1),
            "http": SimpleNamespace(listen=f"127.0.0.1:{port}"),
        }
    )
    c = check_web(config)
    assert (c.level, c.message) == ("OK", f"127.0.0.1:{port} is free for the HTTP server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        assert check_web(config, timeout_s=0.5).level == "FAIL"


def test_web_port_taken_by_another_program_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        c = check_web(web_config("127.0.0.1", port), timeout_s=0.5)
    assert c.level == "FAIL"
    assert c.message.startswith(f"127.0.0.1:{port} is in use by another program")


@pytest.fixture()
def http_server() -> Iterator[Callable[[str], int]]:
    servers: list[ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []

    def start(server_version: str) -> int:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a: Any) -> None:
                pass

        Handler.server_version = server_version
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        servers.append(srv)
        threads.append(t)
        return int(srv.server_address[1])

    yield start
    for srv, t in zip(servers, threads, strict=True):
        srv.shutdown()
        srv.server_close()
        t.join(5)


def test_web_port_already_served_by_camera_app_is_ok(http_server: Callable[[str], int]) -> None:
    port = http_server("camera_app")
    c = check_web(web_config("127.0.0.1", port), timeout_s=2)
    assert (c.level, c.message) == (
        "OK",
        f"127.0.0.1:{port} is served by camera-app already (the running service?)",
    )
    other = http_server("nginx")
    c = check_web(web_config("127.0.0.1", other), timeout_s=2)
    assert c.level == "FAIL" and "in use by another program (nginx Python/" in c.message


def test_web_host_not_on_this_machine_fails() -> None:
    c = check_web(web_config("203.0.113.7", 8080))  # TEST-NET-3: never ours
    assert (c.level, c.message) == (
        "FAIL",
        "203.0.113.7:8080: 203.0.113.7 is not an address of this machine",
    )
