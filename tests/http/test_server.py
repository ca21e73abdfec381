"""The operations server on loopback: routes, health, access, errors, lifetime."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from camera_app.errors import ConfigError, SinkError
from camera_app.events import SourceEvent
from camera_app.http import HttpLimits, HttpServer, Request, Response, text
from camera_app.stats import OutputHealth, PipelineStats

TOKEN = "ops-token"
Make = Callable[..., HttpServer]


def metric_values(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


# -- without a preview -----------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "status", "ctype"),
    [
        ("/healthz", 200, "text/plain; charset=utf-8"),
        ("/metrics", 200, "text/plain; version=0.0.4; charset=utf-8"),
        ("/api/stats", 200, "application/json"),
        ("/stream.mjpg", 404, "text/plain; charset=utf-8"),
        ("/", 404, "text/plain; charset=utf-8"),
        ("/snapshot.jpg", 404, "text/plain; charset=utf-8"),
        ("/api/detections/latest", 404, "text/plain; charset=utf-8"),
    ],
)
def test_ops_routes_without_a_preview(
    server: HttpServer, get: Callable[..., tuple], path: str, status: int, ctype: str
) -> None:
    got, headers, _ = get(server.port, path)
    assert (got, headers["Content-Type"]) == (status, ctype)
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_stats_and_metrics_bodies(server: HttpServer, stats: PipelineStats, get: Callable) -> None:
    for _ in range(3):
        stats.on_gated("no_motion")
    stats.on_gated("rate")
    stats.register_output("record", lambda: OutputHealth(True, written=42))
    snap = json.loads(get(server.port, "/api/stats")[2])
    assert (snap["processed"], snap["gated"], snap["health"]) == (
        1,
        {"no_motion": 3, "rate": 1},
        "ok",
    )
    assert snap["source_up"] is True and snap["outputs"]["record"]["written"] == 42
    assert "clients" not in snap  # preview fields only with the preview
    values = metric_values(get(server.port, "/metrics")[2])
    assert values[("camera_app_frames_gated_total", (("reason", "no_motion"),))] == 3
    assert values[("camera_app_frames_gated_total", (("reason", "rate"),))] == 1
    assert values[("camera_app_output_ok", (("output", "record"),))] == 1
    assert values[("camera_app_output_written_total", (("output", "record"),))] == 42
    assert values[("camera_app_healthy", ())] == 1
    assert values[("camera_app_http_requests_total", ())] >= 1
    assert values[("camera_app_http_rejected_total", (("reason", "busy"),))] == 0
    assert not any(name.startswith("camera_app_stream") for name, _ in values)


# -- health ----------------------------------------------------------------------------
def test_health_checks_report_the_first_failing_reason(server: HttpServer, get: Callable) -> None:
    reasons: dict[str, str | None] = {"model": None, "recording": None}
    server.add_health("model", lambda: reasons["model"])
    server.add_health("recording", lambda: reasons["recording"])
    assert get(server.port, "/healthz")[::2] == (200, b"ok\n")
    reasons["recording"] = "recording failed: disk full"
    assert get(server.port, "/healthz")[::2] == (503, b"recording failed: disk full\n")
    reasons["model"] = "no model"
    assert get(server.port, "/healthz")[::2] == (503, b"no model\n")
    assert json.loads(get(server.port, "/api/stats")[2])["health"] == "no model"
    assert metric_values(get(server.port, "/metrics")[2])[("camera_app_healthy", ())] == 0
    reasons.update(model=None, recording=None)
    assert get(server.port, "/healthz")[0] == 200


def test_a_broken_health_check_fails_health(server: HttpServer, get: Callable) -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    server.add_health("camera", broken)
    assert get(server.port, "/healthz")[::2] == (503, b"camera: check failed (RuntimeError)\n")


def test_built_in_checks_follow_the_pipeline(
    make_server: Make, stats: PipelineStats, get: Callable
) -> None:
    server = make_server()
    stats.register_output("record", lambda: OutputHealth(False, "disk full"))
    assert get(server.port, "/healthz")[::2] == (503, b"output record: disk full\n")
    server.on_event(SourceEvent("source_down", "camera unplugged"))
    assert get(server.port, "/healthz")[::2] == (503, b"source down: camera unplugged\n")
    stale = make_server(stale_after_s=0.0)
    stale.on_event(SourceEvent("source_up", "camera back"))
    assert get(stale.port, "/healthz")[2].startswith(b"no frame processed for")
    with HttpServer(port=0) as unbound:
        unbound.start()
        assert get(unbound.port, "/healthz")[::2] == (503, b"pipeline not started\n")


# -- access -----------------------------------------------------------------------------
ROUTES = ["/metrics", "/api/stats", "/api/events", "/api/recordings/a.mp4"]


def add_later_routes(server: HttpServer) -> None:
    """What the events and recordings code will add."""
    server.add_route("GET", "/api/events", lambda r: text(200, "events"))
    server.add_route("GET", "/api/recordings/*", lambda r: text(200, r.route_tail))


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"query": "wrong"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"query": TOKEN}, 200),
    ],
)
def test_token_on_every_route_but_healthz(
    make_server: Make, get: Callable, path: str, how: dict[str, str], status: int
) -> None:
    server = make_server(token=TOKEN)
    add_later_routes(server)
    headers = dict(how)
    query = headers.pop("query", None)
    got, resp_headers, _ = get(
        server.port, path + (f"?token={query}" if query else ""), headers=headers
    )
    assert got == status
    if status == 401:
        assert resp_headers["WWW-Authenticate"] == "Bearer"
    assert get(server.port, "/healthz")[0] == 200  # open on purpose


@pytest.mark.parametrize("path", [*ROUTES, "/healthz"])
@pytest.mark.parametrize(
    ("host_header", "token", "status"),
    [
        ("127.0.0.1:8080", None, 200),
        ("localhost:8080", None, 200),
        ("[::1]:8080", None, 200),
        ("evil.example:8080", None, 403),  # DNS rebinding: a page elsewhere reading us
        ("evil.example:8080", TOKEN, 200),  # with a token, the token decides
    ],
)
def test_host_rule_on_every_route_but_healthz(
    make_server: Make, get: Callable, path: str, host_header: str, token: str | None, status: int
) -> None:
    server = make_server(token=token)
    add_later_routes(server)
    headers = {"Host": host_header, "Authorization": f"Bearer {TOKEN}"}
    expected = 200 if path == "/healthz" else status
    assert get(server.port, path, headers=headers)[0] == expected


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "camera.local"])
def test_beyond_loopback_without_token_is_refused(host: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"^--http {host} needs an access token: set \[preview\] token"
    ):
        HttpServer(host, 0)


def test_token_never_logged(
    make_server: Make, get: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="camera_app")
    server = make_server(token=TOKEN)
    assert get(server.port, f"/api/stats?token={TOKEN}")[0] == 200
    server.close()  # the handler logged before the thread ended
    assert "GET /api/stats?token=***" in caplog.text and TOKEN not in caplog.text


# -- routing and errors ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/../../etc/passwd", 404),
        ("GET", "/api/recordings/", 404),  # a prefix route needs a tail
        ("GET", "/api/recordings/x/y.mp4", 200),
        ("POST", "/api/stats", 405),
        ("DELETE", "/healthz", 405),
        ("HEAD", "/metrics", 405),
    ],
)
def test_unknown_routes_and_methods(
    server: HttpServer, get: Callable, method: str, path: str, status: int
) -> None:
    add_later_routes(server)
    got, headers, body = get(server.port, path, method)
    assert got == status
    if status == 405:
        assert headers["Allow"] == "GET"
    if path.endswith("y.mp4"):
        assert body == b"x/y.mp4\n"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /healthz\r\n\r\n", b"400"),
        (b"GET healthz HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /healthz HTTP/2.0\r\n\r\n", b"400"),
        (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"400"),
        (b"GET /healthz HTTP/1.0\r\n\r\n", b"200"),
        (b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", b"200"),
    ],
)
def test_malformed_requests_get_a_clean_answer(
    server: HttpServer, raw: Callable[..., bytes], data: bytes, status: bytes
) -> None:
    answer = raw(server.port, data)
    assert answer.split(b" ", 2)[1] == status, answer[:100]
    assert b"\r\nConnection: close\r\n" in answer


def test_a_failing_handler_answers_500_and_the_server_goes_on(
    server: HttpServer, get: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: Request) -> Response:
        raise ValueError("bug")

    server.add_route("GET", "/broken", broken)
    assert get(server.port, "/broken")[::2] == (500, b"internal error\n")
    assert get(server.port, "/healthz")[0] == 200
    server.close()
    assert "GET /broken failed" in caplog.text and "ValueError: bug" in caplog.text


def test_keep_alive_serves_pipelined_requests_in_order(server: HttpServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        statuses = []
        for _ in range(2):
            statuses.append(f.readline().split()[1])
            length = 0
            while (line := f.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                assert not line.lower().startswith(b"connection: close")
            f.read(length)
        assert statuses == [b"200", b"404"]


def test_duplicate_routes_are_refused(server: HttpServer) -> None:
    with pytest.raises(ValueError, match="GET /healthz is already registered"):
        server.add_route("GET", "/healthz", lambda r: text(200, "again"))


# -- lifetime -------------------------------------------------------------------------------
def test_busy_port_fails_in_the_constructor() -> None:
    with HttpServer(port=0) as first:
        with pytest.raises(SinkError, match=rf"^http: cannot listen on 127.0.0.1:{first.port} \("):
            HttpServer(port=first.port)


def test_close_aborts_a_stalled_stream_and_joins_every_thread(make_server: Make) -> None:
    started = threading.Event()

    def endless(request: Request) -> None:
        request.send_head(200, {"Content-Type": "application/octet-stream"}, timeout_s=60)
        started.set()
        while True:  # until the peer stalls and close() aborts the send
            request.write(b"x" * 65536)

    server = make_server()
    server.add_route("GET", "/endless", endless)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(b"GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads
    assert started.wait(5)
    closer = threading.Thread(target=server.close)
    closer.start()
    closer.join(3.0)
    assert not closer.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("http-")]
    stalled.close()


def test_limits_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^http.max_connections: expected >= 1, got 0$"):
        HttpLimits(max_connections=0)
    with pytest.raises(ConfigError, match=r"^http.header_timeout_s: expected > 0, got 0$"):
        HttpLimits(header_timeout_s=0)


def test_header_injection_is_refused(server: HttpServer, get: Callable) -> None:
    server.add_route("GET", "/inject", lambda r: text(200, "x", {"X-A": "b\r\nSet-Cookie: c"}))
    assert get(server.port, "/inject")[::2] == (500, b"internal error\n")
