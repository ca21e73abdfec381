"""The web preview on a real socket: routes, stream, metrics, access, viewers.

The server itself (limits, timeouts, health checks, ranges) is tested in
tests/http; here the preview's routes on it, standalone and on a shared server.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from camera_app.errors import ConfigError, SinkError
from camera_app.events import SourceEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.http import HttpServer
from camera_app.inference.model import load_model
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.results import Detections, FrameResult
from camera_app.sinks.web import WebPreviewSink
from camera_app.sources import SourceOptions, open_source
from camera_app.stats import PipelineStats

TOKEN = "s3cret-token"
INFO = SourceInfo("test", "test", (320, 240), fps=30.0, live=True)


# -- builders ------------------------------------------------------------------
def make_result(i: int, size_wh: tuple[int, int] = (320, 240), noise: bool = False) -> FrameResult:
    """A result with a distinct picture per ``i`` and one box."""
    w, h = size_wh
    if noise:  # incompressible: large JPEGs that fill socket buffers fast
        image = np.random.default_rng(i).integers(0, 256, (h, w, 3), np.uint8)
    else:
        image = np.full((h, w, 3), (i * 37) % 256, np.uint8)
        cv2.putText(image, str(i), (20, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 255), 3)
    now = time.monotonic_ns()
    det = Detections(np.array([[10, 10, 100, 120]]), np.array([0.9]), np.array([1]))
    info = SourceInfo("test", "test", size_wh, fps=30.0, live=True)
    return FrameResult(Frame(image, i, now - 5_000_000, info), "ssd", det, done_ns=now)


def feed(
    sink: WebPreviewSink,
    stats: PipelineStats,
    i: int,
    size_wh: tuple[int, int] = (320, 240),
    noise: bool = False,
) -> FrameResult:
    """What the pipeline does for one frame: count it, then hand it to the sink."""
    result = make_result(i, size_wh, noise)
    stats.on_captured(result.frame.timestamp_ns)
    stats.on_processed(result.done_ns, result.latency_ms, {"inference": 4.0})
    sink.handle(result)
    return result


def request(
    sink: WebPreviewSink, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = b"" if path.startswith("/stream") and resp.status == 200 else resp.read()
        return resp.status, resp.headers, body
    finally:
        conn.close()


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def get(sink: WebPreviewSink, path: str) -> tuple[int, bytes]:
    status, _, body = request(sink, path)
    return status, body


class MjpegReader:
    """A viewer on its own thread: reads /stream.mjpg and keeps every JPEG."""

    def __init__(self, port: int, path: str = "/stream.mjpg") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.status_line = self.file.readline().decode()
        self.headers: dict[str, str] = {}
        while (line := self.file.readline().decode().strip()) != "":
            k, _, v = line.partition(":")
            self.headers[k.lower()] = v.strip()
        self.frames: list[bytes] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (line := self.file.readline()) != b"":
                if not line.startswith(b"--frame"):
                    continue
                length = 0
                while (h := self.file.readline().strip()) != b"":
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":")[1])
                data = self.file.read(length)
                self.file.readline()
                with self.cond:
                    self.frames.append(data)
                    self.cond.notify_all()
        except OSError:
            pass

    def wait_frames(self, n: int, timeout_s: float = 15.0) -> list[bytes]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.frames) >= n, timeout_s)
            return list(self.frames)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # the reader thread's makefile holds the fd
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def stats() -> PipelineStats:
    s = PipelineStats()
    s.set_source_state("up")
    return s


@pytest.fixture
def sink(stats: PipelineStats) -> Iterator[WebPreviewSink]:
    with WebPreviewSink(port=0) as s:
        s.bind(stats, lambda: None)
        yield s


# -- routes ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "status", "ctype"),
    [
        ("/", 200, "text/html; charset=utf-8"),
        ("/stream.mjpg", 200, "multipart/x-mixed-replace; boundary=frame"),
        ("/snapshot.jpg", 200, "image/jpeg"),
        ("/api/stats", 200, "application/json"),
        ("/api/detections/latest", 200, "application/json"),
        ("/metrics", 200, "text/plain; version=0.0.4; charset=utf-8"),
        ("/healthz", 200, "text/plain; charset=utf-8"),
        ("/nope", 404, "text/plain; charset=utf-8"),
        ("/../../etc/passwd", 404, "text/plain; charset=utf-8"),
        ("/camera_app/sinks/web.py", 404, "text/plain; charset=utf-8"),
    ],
)
def test_route_status_and_content_type(
    sink: WebPreviewSink, stats: PipelineStats, path: str, status: int, ctype: str
) -> None:
    feed(sink, stats, 0)
    got_status, headers, _ = request(sink, path)
    assert (got_status, headers["Content-Type"]) == (status, ctype)


def test_route_bodies(sink: WebPreviewSink, stats: PipelineStats) -> None:
    for i in range(3):
        feed(sink, stats, i)
    _, _, page = request(sink, "/")
    assert b'id="stream"' in page and b"/api/stats" in page
    assert b"http://" not in page and b"https://" not in page  # no external assets
    _, _, jpeg = request(sink, "/snapshot.jpg")
    image = decode(jpeg)
    assert image.shape == (240, 320, 3)
    _, _, latest = request(sink, "/api/detections/latest")
    rec = json.loads(latest)
    assert rec["frame_id"] == 2 and rec["detections"][0]["xyxy"] == [10.0, 10.0, 100.0, 120.0]
    _, _, st = request(sink, "/api/stats")
    snap = json.loads(st)
    assert (snap["processed"], snap["captured"], snap["health"]) == (3, 3, "ok")
    assert snap["source_up"] is True and snap["clients"] == 0
    assert snap["jpeg_encodes"] == 1  # only the snapshot: nobody was watching


def test_nothing_to_show_before_the_first_frame(sink: WebPreviewSink) -> None:
    assert request(sink, "/snapshot.jpg")[0] == 503
    assert request(sink, "/api/detections/latest")[0] == 503
    status, _, body = request(sink, "/healthz")
    assert (status, body) == (503, b"no frame processed yet\n")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_only_get_is_allowed(sink: WebPreviewSink, method: str) -> None:
    status, headers, _ = request(sink, "/api/stats", method)
    assert (status, headers["Allow"]) == (405, "GET")


def test_no_encoding_for_nobody_but_snapshots_work(
    sink: WebPreviewSink, stats: PipelineStats
) -> None:
    for i in range(5):
        feed(sink, stats, i)
    assert sink.jpeg_encodes == 0
    status, _, jpeg = request(sink, "/snapshot.jpg")
    assert status == 200 and sink.jpeg_encodes == 1
    assert request(sink, "/snapshot.jpg")[2] == jpeg and sink.jpeg_encodes == 1  # same frame
    feed(sink, stats, 5)  # a snapshot was just asked for: keep encoding a while
    assert sink.jpeg_encodes == 2


# -- health and metrics --------------------------------------------------------------
def test_healthz_follows_frames_and_source_events(stats: PipelineStats) -> None:
    with WebPreviewSink(port=0) as sink:
        sink.bind(stats, lambda: None)
        feed(sink, stats, 0)
        assert get(sink, "/healthz") == (200, b"ok\n")
        sink.on_event(SourceEvent("source_down", "camera unplugged"))
        assert get(sink, "/healthz") == (503, b"source down: camera unplugged\n")
        assert json.loads(get(sink, "/api/stats")[1])["source_up"] is False
        sink.on_event(SourceEvent("source_up", "camera back"))
        assert request(sink, "/healthz")[0] == 200
    with HttpServer(port=0, stale_after_s=0.0) as server, WebPreviewSink(server) as stale:
        stale.bind(stats, lambda: None)
        status, _, body = request(stale, "/healthz")
        assert status == 503 and body.startswith(b"no frame processed for")


def test_metrics_parse_with_expected_families_and_values(
    sink: WebPreviewSink, stats: PipelineStats
) -> None:
    for i in range(4):
        feed(sink, stats, i)
    stats.on_drop("capture_queue", 3)
    stats.on_drop('sink:we"ird\\name\n', 1)
    stats.count("reconnects")
    _, _, body = request(sink, "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert values[("camera_app_frames_captured_total", ())] == 4
    assert values[("camera_app_frames_processed_total", ())] == 4
    assert values[("camera_app_frames_dropped_total", (("stage", "capture_queue"),))] == 3
    assert values[("camera_app_frames_dropped_total", (("stage", 'sink:we"ird\\name\n'),))] == 1
    assert values[("camera_app_reconnects_total", ())] == 1
    assert values[("camera_app_inference_ms", (("quantile", "0.5"),))] == 4.0
    assert values[("camera_app_inference_ms", (("quantile", "0.95"),))] == 4.0
    assert values[("camera_app_inference_ms", (("quantile", "0.99"),))] == 4.0
    assert values[("camera_app_latency_ms", (("quantile", "0.5"),))] == pytest.approx(5.0, abs=1)
    assert values[("camera_app_source_up", ())] == 1
    assert values[("camera_app_healthy", ())] == 1
    assert values[("camera_app_stream_clients", ())] == 0
    assert values[("camera_app_stream_clients_dropped_total", ())] == 0
    assert values[("camera_app_jpeg_encodes_total", ())] == 0
    assert values[("camera_app_uptime_seconds", ())] > 0
    assert {s.labels["stage"] for s in families["camera_app_fps"].samples} == {
        "average",
        "capture",
        "inference",
    }
    kinds = {name: f.type for name, f in families.items()}
    assert kinds["camera_app_frames_processed"] == "counter"
    assert kinds["camera_app_jpeg_encodes"] == "counter"
    assert kinds["camera_app_stream_clients"] == "gauge"
    preview = {"stream_clients", "stream_clients_dropped", "jpeg_encodes"}
    assert preview < {name.removeprefix("camera_app_") for name in families}
    assert body.count(b"# HELP ") == body.count(b"# TYPE ") == len(families)


# -- access --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/stats", {}, 401),
        ("/api/stats", {"Authorization": "Bearer wrong"}, 401),
        ("/api/stats?token=wrong", {}, 401),
        ("/api/stats", {"Authorization": f"Basic {TOKEN}"}, 401),
        ("/api/stats", {"Authorization": f"Bearer {TOKEN}"}, 200),
        (f"/api/stats?token={TOKEN}", {}, 200),
        ("/metrics", {}, 401),
        ("/metrics", {"Authorization": f"Bearer {TOKEN}"}, 200),
        ("/snapshot.jpg", {}, 401),
        (f"/snapshot.jpg?token={TOKEN}", {}, 200),
        ("/stream.mjpg", {}, 401),
        (f"/stream.mjpg?token={TOKEN}", {}, 200),
        ("/", {}, 401),
        (f"/?token={TOKEN}", {}, 200),
        ("/healthz", {}, 200),  # open on purpose: says "ok" or why not, nothing else
    ],
)
def test_token_is_required(
    stats: PipelineStats, path: str, headers: dict[str, str], status: int
) -> None:
    with WebPreviewSink(port=0, token=TOKEN) as sink:
        sink.bind(stats, lambda: None)
        feed(sink, stats, 0)
        got, resp_headers, _ = request(sink, path, headers=headers)
        assert got == status
        if status == 401:
            assert resp_headers["WWW-Authenticate"] == "Bearer"


def test_token_never_logged(stats: PipelineStats, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="camera_app")
    with WebPreviewSink(port=0, token=TOKEN) as sink:
        sink.bind(stats, lambda: None)
        assert request(sink, f"/api/stats?token={TOKEN}")[0] == 200
    assert "GET /api/stats?token=***" in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "camera.local"])
def test_beyond_loopback_without_token_is_refused(host: str) -> None:
    message = (
        f"--web-host {host} needs an access token: set [preview] token (or [http] token) "
        "in the config file, or CAMERA_APP_WEB_TOKEN; or pass --insecure-no-auth"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        WebPreviewSink(host=host, port=0)


@pytest.mark.parametrize(
    ("host", "kwargs"),
    [
        ("0.0.0.0", {"insecure_no_auth": True}),
        ("0.0.0.0", {"token": TOKEN}),
        ("127.0.0.1", {}),
        ("localhost", {}),
        ("::1", {}),
    ],
)
def test_allowed_hosts_start(stats: PipelineStats, host: str, kwargs: dict[str, object]) -> None:
    with WebPreviewSink(host=host, port=0, **kwargs) as sink:  # type: ignore[arg-type]
        sink.bind(stats, lambda: None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as s:
            s.connect(("::1" if family == socket.AF_INET6 else "127.0.0.1", sink.port))
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert s.makefile("rb").readline().split()[1] == b"503"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"jpeg_quality": 0}, ConfigError, "preview.jpeg_quality must be 1..100, got 0"),
        ({"max_clients": 0}, ConfigError, "preview.max_clients must be >= 1, got 0"),
        ({"max_fps": 0.0}, ConfigError, "preview.max_fps must be > 0, got 0.0"),
        ({"port": 70000}, SinkError, "web preview: cannot listen on 127.0.0.1:70000 "),
        ({"host": "no-such-host.invalid", "insecure_no_auth": True}, SinkError, "cannot listen"),
    ],
)
def test_bad_options_fail_in_the_constructor(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        WebPreviewSink(**{"port": 0, **kwargs})


def test_port_in_use_fails_in_the_constructor() -> None:
    with WebPreviewSink(port=0) as first:
        with pytest.raises(
            SinkError, match=rf"^web preview: cannot listen on 127.0.0.1:{first.port} "
        ):
            WebPreviewSink(port=first.port)


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
def test_host_header_checked_on_loopback_without_token(
    stats: PipelineStats, host_header: str, token: str | None, status: int
) -> None:
    with WebPreviewSink(port=0, token=token) as sink:
        sink.bind(stats, lambda: None)
        headers = {"Host": host_header, "Authorization": f"Bearer {TOKEN}"}
        assert request(sink, "/api/stats", headers=headers)[0] == status


# -- viewers ---------------------------------------------------------------------------
def test_viewer_cap(stats: PipelineStats) -> None:
    with WebPreviewSink(port=0, max_clients=2) as sink:
        sink.bind(stats, lambda: None)
        viewers = [MjpegReader(sink.port) for _ in range(2)]
        assert sink.wait_viewers(lambda n: n == 2, 5)
        status, headers, _ = request(sink, "/stream.mjpg")
        assert status == 503 and headers["Retry-After"] == "5"
        for v in viewers:
            v.close()
        assert sink.wait_viewers(lambda n: n == 0, 5)
        assert request(sink, "/stream.mjpg")[0] == 200


def test_encodes_once_per_frame_and_a_stalled_viewer_is_dropped(stats: PipelineStats) -> None:
    with WebPreviewSink(port=0, max_clients=5, send_timeout_s=0.5) as sink:
        sink.bind(stats, lambda: None)
        viewers = [MjpegReader(sink.port) for _ in range(4)]
        assert all(v.status_line.split()[1] == "200" for v in viewers)
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", sink.port))
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads
        assert sink.wait_viewers(lambda n: n == 5, 5)
        handled = 0
        # Keep feeding large frames until the stalled viewer's send times out.
        while handled < 2000 and not sink.wait_viewers(lambda n: n == 4, 0.02):
            feed(sink, stats, handled, size_wh=(640, 480), noise=True)
            handled += 1
        assert sink.clients_dropped == 1 and sink.clients == 4
        for i in range(handled, handled + 3):  # the others still get every new frame
            before = [len(v.wait_frames(0)) for v in viewers]
            feed(sink, stats, i, size_wh=(640, 480), noise=True)
            handled += 1
            assert all(len(v.wait_frames(n + 1)) > n for v, n in zip(viewers, before, strict=True))
        assert sink.jpeg_encodes == handled  # once per frame, not once per viewer
        for v in viewers:
            frames = v.wait_frames(2)
            assert len(set(frames)) == len(frames) >= 2
            decoded = decode(frames[-1])
            assert decoded.shape == (480, 640, 3)
            v.close()
        stalled.close()


def test_max_fps_limits_encodes(stats: PipelineStats) -> None:
    with WebPreviewSink(port=0, max_fps=0.5) as sink:
        sink.bind(stats, lambda: None)
        viewer = MjpegReader(sink.port)
        assert sink.wait_viewers(lambda n: n == 1, 5)
        for i in range(5):
            feed(sink, stats, i)
        assert sink.jpeg_encodes == 1 and len(viewer.wait_frames(1)) == 1
        viewer.close()


def test_close_returns_promptly_with_a_stalled_viewer(stats: PipelineStats) -> None:
    sink = WebPreviewSink(port=0, send_timeout_s=60)
    sink.bind(stats, lambda: None)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", sink.port))
    stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sink.wait_viewers(lambda n: n == 1, 5)
    for i in range(20):  # enough to block its sender in send()
        feed(sink, stats, i, size_wh=(640, 480), noise=True)
    closer = threading.Thread(target=sink.close)
    closer.start()
    closer.join(2.0)
    assert not closer.is_alive()
    assert sink.wait_viewers(lambda n: n == 0, 2)
    stalled.close()


# -- on a shared server -------------------------------------------------------------
def test_preview_routes_join_a_shared_server(stats: PipelineStats) -> None:
    with HttpServer(port=0, token=TOKEN, stats=stats) as server:
        server.start()
        assert request_on(server.port, "/stream.mjpg", TOKEN)[0] == 404  # no preview yet
        sink = WebPreviewSink(server, max_clients=1)
        sink.bind(stats, lambda: None)
        feed(sink, stats, 0)
        for path in ("/", "/snapshot.jpg", "/api/detections/latest", "/metrics"):
            assert request_on(server.port, path, TOKEN)[0] == 200, path
        assert request_on(server.port, "/snapshot.jpg")[0] == 401  # the server's token rules
        snap = json.loads(request_on(server.port, "/api/stats", TOKEN)[1])
        assert (snap["jpeg_encodes"], snap["clients"], snap["health"]) == (1, 0, "ok")
        sink.close()  # the pipeline ended: the server still answers, the stream does not
        assert request_on(server.port, "/healthz")[0] == 200
        assert request_on(server.port, "/stream.mjpg", TOKEN) == (503, b"preview stopped\n")


def test_stream_viewers_do_not_hold_the_handler_cap(stats: PipelineStats) -> None:
    from camera_app.http import HttpLimits

    with HttpServer(port=0, stats=stats, limits=HttpLimits(max_connections=1)) as server:
        sink = WebPreviewSink(server, max_clients=2)
        sink.bind(stats, lambda: None)
        feed(sink, stats, 0)
        viewers = [MjpegReader(server.port) for _ in range(2)]
        assert sink.wait_viewers(lambda n: n == 2, 5)
        assert all(v.wait_frames(1) for v in viewers)
        assert request_on(server.port, "/healthz") == (200, b"ok\n")  # a handler is free
        for v in viewers:
            v.close()
        sink.close()


def test_server_settings_belong_to_the_server() -> None:
    with HttpServer(port=0) as server, pytest.raises(ValueError, match="belong to the HttpServer"):
        WebPreviewSink(server, port=8080)


def request_on(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# -- with the real pipeline ------------------------------------------------------------
def test_real_pipeline_streams_annotated_frames(models_dir: Path, videos_dir: Path) -> None:
    model = load_model(
        str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        labels=str(models_dir / "coco_labels.txt"),
        num_threads=2,
    )
    source = open_source(
        str(videos_dir / "face-demographics-walking.gif"),
        SourceOptions(mode="realtime", loop=True),
    )
    sink = WebPreviewSink(port=0)
    pipeline = Pipeline(source, model, [sink], PipelineOptions(duration_s=60))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run()
        except BaseException as e:
            errors.append(e)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        viewer = MjpegReader(sink.port)
        frames = viewer.wait_frames(3)
        assert len(set(frames[:3])) == 3
        images = [decode(f) for f in frames[:3]]
        assert all(im.shape == (270, 480, 3) for im in images)
        assert get(sink, "/healthz") == (200, b"ok\n")
        _, _, body = request(sink, "/metrics")
        values = {
            s.name: s.value
            for f in text_string_to_metric_families(body.decode())
            for s in f.samples
            if not s.labels
        }
        assert values["camera_app_frames_processed_total"] >= 3
        assert values["camera_app_stream_clients"] == 1
        assert values["camera_app_source_up"] == 1
        # every encode went to a frame the pipeline processed
        assert (
            3
            <= values["camera_app_jpeg_encodes_total"]
            <= values["camera_app_frames_processed_total"]
        )
        latest = json.loads(request(sink, "/api/detections/latest")[2])
        assert set(latest) >= {"frame_id", "timestamp_ns", "latency_ms", "detections"}
    finally:
        pipeline.stop()
        runner.join(5.0)
    assert not runner.is_alive() and errors == []
    assert request_fails(sink.port)


def request_fails(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False
