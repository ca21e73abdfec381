"""The web preview's routes on the HTTP server: page, stream, snapshot, latest.

Kept apart from :mod:`camera_app.sinks.web` (frames and state); handlers
only call the sink's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camera_app.http import HttpServer, Request, Response, json_response, text
from camera_app.http.messages import SECURITY_HEADERS
from camera_app.sinks.web_page import PAGE_HTML

if TYPE_CHECKING:
    from camera_app.sinks.web import WebPreviewSink

BOUNDARY = "frame"
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'"
)


def add_preview_routes(server: HttpServer, sink: WebPreviewSink) -> None:
    def page(request: Request) -> Response:
        return Response(
            200,
            PAGE_HTML.encode(),
            "text/html; charset=utf-8",
            {"Content-Security-Policy": PAGE_CSP},
        )

    def snapshot(request: Request) -> Response:
        data = sink.snapshot_jpeg()
        return text(503, "no frame yet") if data is None else Response(200, data, "image/jpeg")

    def detections(request: Request) -> Response:
        latest = sink.latest_json()
        if latest is None:
            return json_response(503, {"error": "no result yet"})
        return json_response(200, latest)

    def stream(request: Request) -> Response | None:
        if sink.closing:
            return text(503, "preview stopped")
        if not sink.add_viewer(request):
            return text(503, f"too many viewers (max {sink.max_clients})", {"Retry-After": "5"})
        try:
            request.detach()  # bounded by max_clients, not by the server's handler cap
            headers = {
                "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                **SECURITY_HEADERS,
            }
            request.send_head(200, headers, timeout_s=sink.send_timeout_s)
            sink.stream_to(request.write, request.hung_up)
        finally:
            sink.remove_viewer(request)
        return None

    server.add_route("GET", "/", page)
    server.add_route("GET", "/stream.mjpg", stream)
    server.add_route("GET", "/snapshot.jpg", snapshot)
    server.add_route("GET", "/api/detections/latest", detections)
