"""The web preview's HTTP side: server, routes, access check, metrics text.

Kept apart from :mod:`camera_app.sinks.web` (frames and state); handlers
only call the sink's methods.
"""

from __future__ import annotations

import json
import logging
import math
import re
import select
import socket
import socketserver
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from camera_app.sinks.web_page import PAGE_HTML

if TYPE_CHECKING:
    from camera_app.sinks.web import WebPreviewSink

log = logging.getLogger(__name__)

BOUNDARY = "frame"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() unblocks viewers; never wait on a stalled one

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("web preview: request from %s failed", client_address, exc_info=True)


def _esc(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(v)


def render_metrics(snap: dict[str, Any], source_up: bool, clients: int, encodes: int) -> str:
    """Prometheus text exposition format 0.0.4 from a stats snapshot."""
    times = snap["timings_ms"]

    def quantiles(key: str) -> list[tuple[dict[str, str], Any]]:
        t = times.get(key) or {}
        return [({"quantile": q}, t.get(k)) for q, k in (("0.5", "p50"), ("0.95", "p95"))]

    families: list[tuple[str, str, str, list[tuple[dict[str, str], Any]]]] = [
        (
            "frames_captured_total",
            "counter",
            "Frames read from the source.",
            [({}, snap["captured"])],
        ),
        (
            "frames_processed_total",
            "counter",
            "Frames through inference.",
            [({}, snap["processed"])],
        ),
        (
            "frames_dropped_total",
            "counter",
            "Frames or results dropped, by stage.",
            [({"stage": k}, v) for k, v in sorted(snap["dropped"].items())],
        ),
        (
            "reconnects_total",
            "counter",
            "Times the source reconnected.",
            [({}, snap["reconnects"])],
        ),
        (
            "fps",
            "gauge",
            "Frames per second by stage (recent window; average: whole run).",
            [({"stage": k}, float(v)) for k, v in sorted(snap["fps"].items())],
        ),
        (
            "latency_ms",
            "gauge",
            "Capture to result in milliseconds, recent frames.",
            quantiles("latency"),
        ),
        (
            "inference_ms",
            "gauge",
            "Model invocation in milliseconds, recent frames.",
            quantiles("inference"),
        ),
        ("source_up", "gauge", "1 while the source delivers frames.", [({}, int(source_up))]),
        (
            "uptime_seconds",
            "gauge",
            "Seconds since the pipeline started.",
            [({}, float(snap["uptime_s"]))],
        ),
        ("stream_clients", "gauge", "Browsers watching the MJPEG stream.", [({}, clients)]),
        ("jpeg_encodes_total", "counter", "Preview frames JPEG-encoded.", [({}, encodes)]),
    ]
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        full = "camera_app_" + name
        lines += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
            lines.append(f"{full}{{{lab}}} {_num(value)}" if lab else f"{full} {_num(value)}")
    return "\n".join(lines) + "\n"


_TOKEN_RE = re.compile(r"(token=)[^&\s]*")


class _Handler(BaseHTTPRequestHandler):
    sink: WebPreviewSink
    timeout = 10.0  # reading the request line and headers
    server_version = "camera_app"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web %s: %s", self.address_string(), _TOKEN_RE.sub(r"\1***", format % args))

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        headers = {
            "Content-Type": ctype,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            **(extra or {}),
        }
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8", extra)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, default=str).encode(), "application/json")

    def _not_allowed(self) -> None:
        self._text(405, "method not allowed", {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        route, sink = url.path, self.sink
        if route == "/healthz":
            why = sink.health()
            return self._text(200, "ok") if why is None else self._text(503, why)
        if route not in ROUTES:
            return self._text(404, "not found")
        if not sink.host_allowed(self.headers.get("Host")):
            return self._text(403, "unexpected Host header")
        token = parse_qs(url.query).get("token", [None])[0]
        if not sink.authorized(self.headers.get("Authorization"), token):
            return self._text(401, "access token required", {"WWW-Authenticate": "Bearer"})
        ROUTES[route](self)

    def page(self) -> None:
        csp = (
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'"
        )
        self._send(
            200, PAGE_HTML.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": csp}
        )

    def snapshot(self) -> None:
        data = self.sink.snapshot_jpeg()
        if data is None:
            return self._text(503, "no frame yet")
        self._send(200, data, "image/jpeg")

    def stats(self) -> None:
        self._json(200, self.sink.stats_json())

    def detections(self) -> None:
        latest = self.sink.latest_json()
        if latest is None:
            return self._json(503, {"error": "no result yet"})
        self._json(200, latest)

    def metrics(self) -> None:
        self._send(
            200, self.sink.metrics_text().encode(), "text/plain; version=0.0.4; charset=utf-8"
        )

    def stream(self) -> None:
        sink, sock = self.sink, self.connection
        if not sink.add_viewer(sock):
            return self._text(
                503, f"too many viewers (max {sink.max_clients})", {"Retry-After": "5"}
            )
        try:
            sock.settimeout(sink.send_timeout_s)
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            sink.stream_to(self.wfile.write, lambda: _hung_up(sock))
        finally:
            sink.remove_viewer(sock)
            self.close_connection = True


ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/": _Handler.page,
    "/stream.mjpg": _Handler.stream,
    "/snapshot.jpg": _Handler.snapshot,
    "/api/stats": _Handler.stats,
    "/api/detections/latest": _Handler.detections,
    "/metrics": _Handler.metrics,
}


def _hung_up(sock: socket.socket) -> bool:
    """True once the peer closed its end (readable with nothing to read)."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def make_server(host: str, port: int, sink: WebPreviewSink) -> ThreadingHTTPServer:
    """Bind and listen now (raises ``OSError``); serve with ``serve_forever``."""
    handler = type("Handler", (_Handler,), {"sink": sink})
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_cls = type("Server", (_Server,), {"address_family": family})
    return server_cls((host, port), handler)
