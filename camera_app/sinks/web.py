"""Web preview: the annotated stream as MJPEG, on the run's HTTP server.

The sink adds ``/`` (the page), ``/stream.mjpg``, ``/snapshot.jpg`` and
``/api/detections/latest`` to an :class:`~camera_app.http.HttpServer`
(which already serves ``/healthz``, ``/metrics`` and ``/api/stats``, and
applies the token and ``Host`` rules). Given no server, it makes and owns
one on ``host:port``, as ``--preview web`` alone always did. The page also
lists recent object events from ``/api/events``, which the events API
component (:mod:`camera_app.sinks.events_http`) adds to the same server.

Each result is annotated (with the shared :class:`Annotator`) and JPEG-encoded
at most once, and only while someone watches: the bytes go to one "latest
frame" slot and every viewer's thread sends the newest one, so a slow viewer
skips frames and a stalled one is dropped after ``send_timeout_s``; neither
ever slows the pipeline. Viewers are capped by ``max_clients``, apart from
the server's handler cap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import cv2

from camera_app.errors import ConfigError, SinkFailedError
from camera_app.events import Event
from camera_app.http import HttpLimits, HttpServer, Request
from camera_app.http.metrics import Family, one
from camera_app.results import FrameResult
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.sinks.web_http import BOUNDARY, add_preview_routes
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

SNAPSHOT_WARM_NS = 3_000_000_000
"""After a snapshot request, keep encoding every frame this long (page polls)."""


class WebPreviewSink(AnnotatingSink):
    name = "web"
    lossless = False

    def __init__(
        self,
        server: HttpServer | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        token: str | None = None,
        insecure_no_auth: bool = False,
        limits: HttpLimits | None = None,
        annotator: Annotator | None = None,
        jpeg_quality: int = 80,
        max_clients: int = 4,
        max_fps: float | None = None,
        send_timeout_s: float = 5.0,
    ) -> None:
        """On ``server``; or, without one, on a server of its own at
        ``host:port`` (default 127.0.0.1:8080) that it starts and closes."""
        if not 1 <= jpeg_quality <= 100:
            raise ConfigError(f"preview.jpeg_quality must be 1..100, got {jpeg_quality}")
        if max_clients < 1:
            raise ConfigError(f"preview.max_clients must be >= 1, got {max_clients}")
        if max_fps is not None and not max_fps > 0:
            raise ConfigError(f"preview.max_fps must be > 0, got {max_fps}")
        if server is not None and (host, port, token, limits) != (None, None, None, None):
            raise ValueError("host, port, token and limits belong to the HttpServer given")
        self.annotator = annotator or Annotator()
        self.jpeg_quality, self.max_clients, self.max_fps = jpeg_quality, max_clients, max_fps
        self.send_timeout_s = send_timeout_s
        self.jpeg_encodes = 0
        self.clients_dropped = 0
        self._cond = threading.Condition()  # guards everything below; viewers wait on it
        self._closing = False
        self._result: FrameResult | None = None
        self._result_seq = 0
        self._jpeg: bytes | None = None
        self._jpeg_seq = -1
        self._last_encode_ns = 0
        self._snapshot_until_ns = 0
        self._viewers: set[Request] = set()
        self._encode_lock = threading.Lock()
        self._owns_server = server is None
        if server is None:
            server = HttpServer(
                host or "127.0.0.1",
                8080 if port is None else port,
                token=token,
                insecure_no_auth=insecure_no_auth,
                limits=limits,
                name="web preview",
                origin="--web-host",
            )
        self.server = server
        add_preview_routes(server, self)
        server.add_metrics(self._metric_families)
        server.add_stats_fields(self._stats_fields)

    def __enter__(self) -> WebPreviewSink:
        return self

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def clients(self) -> int:
        with self._cond:
            return len(self._viewers)

    # -- pipeline side -----------------------------------------------------
    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        if self.server.stats is None:
            self.server.stats = stats
        self.start()

    def start(self) -> None:
        """Serve requests (``bind`` does this; idempotent)."""
        self.server.start()

    def handle(self, result: FrameResult) -> None:
        now = time.monotonic_ns()
        with self._cond:
            self._result, self._result_seq = result, self._result_seq + 1
            wanted = bool(self._viewers) or now < self._snapshot_until_ns
            if self.max_fps and now - self._last_encode_ns < 1e9 / self.max_fps:
                wanted = False
        if wanted:
            self._encode_latest()

    def on_event(self, event: Event) -> None:
        if self._owns_server:  # a shared server hears source events from the run itself
            self.server.on_event(event)

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            viewers = list(self._viewers)
            self._cond.notify_all()
        for request in viewers:  # unblocks a viewer stuck in send()
            request.abort()
        if self._owns_server:
            self.server.close()

    # -- frames --------------------------------------------------------------
    def _encode_latest(self) -> tuple[bytes, int] | None:
        """The JPEG of the newest result, encoding it if nobody has yet."""
        with self._encode_lock:
            with self._cond:
                result, seq = self._result, self._result_seq
                if result is None:
                    return None
                if self._jpeg is not None and self._jpeg_seq == seq:
                    return self._jpeg, seq
            image = self.annotator.annotate(result)
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise SinkFailedError("web preview: JPEG encoding failed")
            data = buf.tobytes()
            with self._cond:
                self.jpeg_encodes += 1
                self._last_encode_ns = time.monotonic_ns()
                self._jpeg, self._jpeg_seq = data, seq
                self._cond.notify_all()
            return data, seq

    def snapshot_jpeg(self) -> bytes | None:
        with self._cond:
            self._snapshot_until_ns = time.monotonic_ns() + SNAPSHOT_WARM_NS
        got = self._encode_latest()
        return None if got is None else got[0]

    def stream_to(self, write: Callable[[bytes], Any], gone: Callable[[], bool]) -> None:
        """Send the newest frame whenever there is a new one, until close, error,
        or ``gone()`` (the viewer hung up: noticed even when no frames come)."""
        sent = -1
        latest = self._encode_latest()
        try:
            while not self._closing and not gone():
                if latest is not None and latest[1] != sent:
                    data, sent = latest
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                    write(head.encode() + data + b"\r\n")
                latest = self._wait_newer(sent)
        except OSError as e:  # TimeoutError: the viewer stopped reading
            with self._cond:
                dropped = not self._closing
                self.clients_dropped += dropped
            if dropped:
                log.info("web preview: viewer dropped (%s)", type(e).__name__)

    def _wait_newer(self, seq: int, timeout_s: float = 1.0) -> tuple[bytes, int] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._closing or self._jpeg_seq != seq, timeout_s)
            return None if self._jpeg is None else (self._jpeg, self._jpeg_seq)

    def add_viewer(self, request: Request) -> bool:
        with self._cond:
            if self._closing or len(self._viewers) >= self.max_clients:
                return False
            self._viewers.add(request)
            self._cond.notify_all()
            return True

    def remove_viewer(self, request: Request) -> None:
        with self._cond:
            self._viewers.discard(request)
            self._cond.notify_all()

    def wait_viewers(self, predicate: Callable[[int], bool], timeout_s: float) -> bool:
        """Wait until ``predicate(number of viewers)`` holds (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(len(self._viewers)), timeout_s)

    # -- state for the routes ----------------------------------------------
    def latest_json(self) -> dict[str, Any] | None:
        result = self._result
        return None if result is None else result.to_json_line()

    def _stats_fields(self) -> dict[str, Any]:
        return {
            "jpeg_encodes": self.jpeg_encodes,
            "clients": self.clients,
            "clients_dropped": self.clients_dropped,
        }

    def _metric_families(self) -> Iterable[Family]:
        return [
            Family(
                "stream_clients", "gauge", "Browsers watching the MJPEG stream.", one(self.clients)
            ),
            Family(
                "stream_clients_dropped_total",
                "counter",
                "Stream viewers dropped for not reading.",
                one(self.clients_dropped),
            ),
            Family(
                "jpeg_encodes_total",
                "counter",
                "Preview frames JPEG-encoded.",
                one(self.jpeg_encodes),
            ),
        ]
