"""Web preview: the annotated stream as MJPEG, live stats, metrics, health.

A stdlib ``ThreadingHTTPServer`` (light enough for a Pi) serves, GET only:
``/`` (the page), ``/stream.mjpg``, ``/snapshot.jpg``, ``/api/stats``,
``/api/detections/latest``, ``/metrics`` (Prometheus) and ``/healthz``.

Each result is annotated (with the shared :class:`Annotator`) and JPEG-encoded
at most once, and only while someone watches: the bytes go to one "latest
frame" slot and every viewer's thread sends the newest one, so a slow viewer
skips frames and a stalled one is dropped after ``send_timeout_s``; neither
ever slows the pipeline. The socket is bound in the constructor, so a busy
port fails before the pipeline starts.

Access: listening beyond loopback needs a token (config file or
``CAMERA_APP_WEB_TOKEN``, never the command line) unless
``insecure_no_auth``. With a token every route but ``/healthz`` needs
``Authorization: Bearer <token>`` or ``?token=<token>`` (the page passes its
own on). ``/healthz`` stays open for service monitors; it only says "ok" or
why not.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import cv2

from camera_app.errors import ConfigError, SinkError
from camera_app.events import Event, SourceEvent
from camera_app.results import FrameResult
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.sinks.web_http import BOUNDARY, make_server, render_metrics
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

TOKEN_ENV = "CAMERA_APP_WEB_TOKEN"
SNAPSHOT_WARM_NS = 3_000_000_000
"""After a snapshot request, keep encoding every frame this long (page polls)."""


def resolve_token(config_value: str | None) -> str | None:
    """The access token: ``CAMERA_APP_WEB_TOKEN`` if set, else the config file's."""
    token = os.environ.get(TOKEN_ENV) or config_value
    return token or None


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WebPreviewSink(AnnotatingSink):
    name = "web"
    lossless = False

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        token: str | None = None,
        insecure_no_auth: bool = False,
        annotator: Annotator | None = None,
        jpeg_quality: int = 80,
        max_clients: int = 4,
        max_fps: float | None = None,
        send_timeout_s: float = 5.0,
        stale_after_s: float = 5.0,
    ) -> None:
        if not is_loopback(host) and not token and not insecure_no_auth:
            raise ConfigError(
                f"--web-host {host} needs an access token: set web.token in the config file "
                f"or {TOKEN_ENV}; or pass --insecure-no-auth"
            )
        if not 1 <= jpeg_quality <= 100:
            raise ConfigError(f"web.jpeg_quality must be 1..100, got {jpeg_quality}")
        if max_clients < 1:
            raise ConfigError(f"web.max_clients must be >= 1, got {max_clients}")
        if max_fps is not None and not max_fps > 0:
            raise ConfigError(f"web.max_fps must be > 0, got {max_fps}")
        self.host, self.token = host, token
        self.annotator = annotator or Annotator()
        self.jpeg_quality, self.max_clients, self.max_fps = jpeg_quality, max_clients, max_fps
        self.send_timeout_s, self.stale_after_s = send_timeout_s, stale_after_s
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
        self._viewers: set[socket.socket] = set()
        self._source_event: SourceEvent | None = None
        self._encode_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        try:
            self._server = make_server(host.strip("[]"), port, self)
        except (OSError, OverflowError) as e:  # OverflowError: port out of range
            why = getattr(e, "strerror", None) or str(e)
            raise SinkError(f"web preview: cannot listen on {host}:{port} ({why})") from e
        self.port: int = self._server.server_address[1]
        if not is_loopback(host) and not token:
            log.warning("web preview on %s:%d without an access token", host, self.port)

    def __enter__(self) -> WebPreviewSink:
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def clients(self) -> int:
        with self._cond:
            return len(self._viewers)

    # -- pipeline side -----------------------------------------------------
    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        self.start()

    def start(self) -> None:
        """Serve requests (``bind`` does this; idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.2,), name="web-preview", daemon=True
            )
            self._thread.start()
            log.info("web preview at %s", self.url)

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
        if not isinstance(event, SourceEvent):
            return
        if event.kind in ("source_down", "source_up"):
            with self._cond:
                self._source_event = event
            log.debug("web preview: %s %s", event.kind, event.message)

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            viewers = list(self._viewers)
            self._cond.notify_all()
        for sock in viewers:  # unblocks a viewer stuck in send()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._server.shutdown()  # returns within serve_forever's poll interval
            self._thread.join(1.0)
        self._server.server_close()

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
                raise SinkError("web preview: JPEG encoding failed")
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

    def add_viewer(self, sock: socket.socket) -> bool:
        with self._cond:
            if self._closing or len(self._viewers) >= self.max_clients:
                return False
            self._viewers.add(sock)
            self._cond.notify_all()
            return True

    def remove_viewer(self, sock: socket.socket) -> None:
        with self._cond:
            self._viewers.discard(sock)
            self._cond.notify_all()

    def wait_viewers(self, predicate: Callable[[int], bool], timeout_s: float) -> bool:
        """Wait until ``predicate(number of viewers)`` holds (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(len(self._viewers)), timeout_s)

    # -- state for the routes ----------------------------------------------
    def source_up(self) -> bool:
        event, stats = self._source_event, self.stats
        if event is not None and event.kind == "source_down":
            return False
        return stats is not None and stats.source_state == "up"

    def health(self) -> str | None:
        """None when healthy, else why not."""
        stats = self.stats
        if stats is None:
            return "pipeline not started"
        if not self.source_up():
            state = stats.source_state if stats.source_state != "up" else "down"
            event = self._source_event
            why = event.message if event is not None and event.kind == "source_down" else ""
            return f"source {state}: {why}" if why else f"source {state}"
        if not stats.processed:
            return "no frame processed yet"
        age_s = (time.monotonic_ns() - stats.last_processed_ns) / 1e9
        if age_s > self.stale_after_s:
            return f"no frame processed for {age_s:.1f} s"
        return None

    def stats_json(self) -> dict[str, Any]:
        snap = (self.stats or PipelineStats()).snapshot().to_json()
        health = self.health()
        snap.update(
            jpeg_encodes=self.jpeg_encodes,
            clients=self.clients,
            clients_dropped=self.clients_dropped,
            source_up=self.source_up(),
            health=health or "ok",
        )
        return snap

    def metrics_text(self) -> str:
        return render_metrics(self.stats_json(), self.source_up(), self.clients, self.jpeg_encodes)

    def latest_json(self) -> dict[str, Any] | None:
        result = self._result
        return None if result is None else result.to_json_line()

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token on loopback, only loopback names in ``Host``: a web
        page elsewhere cannot read the preview through DNS rebinding."""
        if self.token or not is_loopback(self.host) or not host_header:
            return True
        return is_loopback(urlsplit("//" + host_header).hostname or "")

    def authorized(self, header: str | None, query_token: str | None) -> bool:
        if not self.token:
            return True
        expected = self.token.encode()
        if header and header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), expected)
        return query_token is not None and hmac.compare_digest(query_token.encode(), expected)
