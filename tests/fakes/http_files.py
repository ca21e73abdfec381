"""A local HTTP file server for download tests (catalogue, models pull).

Tests put ``tests/fakes`` on ``sys.path`` (``monkeypatch.syspath_prepend``)
and ``from http_files import FileServer``. Each route serves bytes with a
chosen behaviour: an HTTP error status, a body cut short (the connection is
closed after ``truncate_at`` bytes although Content-Length promised more),
no Content-Length, or a stall (headers and part of the body, then nothing
until the server stops), to exercise every failure of a download.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


@dataclass
class Route:
    body: bytes
    status: int = 200
    truncate_at: int | None = None
    content_length: bool = True
    stall_after: int | None = None


class FileServer:
    """``with FileServer() as s: s.add("m.tflite", data); s.url("m.tflite")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.lstrip("/").split("?")[0]
                server.hits[path] += 1
                route = server.routes.get(path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if route.content_length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.stall_after is not None:
                    self.wfile.write(route.body[: route.stall_after])
                    self.wfile.flush()
                    server._release.wait(30)  # until the test ends (bounded)
                    return
                end = route.truncate_at if route.truncate_at is not None else len(route.body)
                self.wfile.write(route.body[:end])
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def add(self, path: str, body: bytes | Path, **kwargs: Any) -> str:
        """Serve ``body`` (bytes or a file's contents) at ``/path``; returns its URL."""
        data = body.read_bytes() if isinstance(body, Path) else body
        self.routes[path] = Route(data, **kwargs)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
