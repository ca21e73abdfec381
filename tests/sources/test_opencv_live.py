"""Cameras and network streams through OpenCV (camera_app/sources/opencv_live.py):
errors at open are one quiet line (exit 2), a stream lost later exits 1."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from camera_app.errors import EXIT_FAILED, EXIT_USAGE, SourceError, SourceLostError
from camera_app.sources.images import read_image
from camera_app.sources.opencv_live import OpenCVLiveSource


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_a_stream_on_a_closed_port_is_one_quiet_line_with_ffmpegs_reason(
    capfd: pytest.CaptureFixture[str], scheme: str
) -> None:
    url = f"{scheme}://127.0.0.1:{_closed_port()}/stream"
    with pytest.raises(SourceError) as excinfo:
        OpenCVLiveSource(url, open_timeout_s=5).start()
    message = str(excinfo.value)
    assert message.startswith(f"stream {url}: cannot be opened: ")
    assert "Connection refused" in message and "expected a reachable" in message
    assert excinfo.value.exit_code == EXIT_USAGE
    assert capfd.readouterr().err == ""  # FFmpeg's and OpenCV's lines went to the debug log


@pytest.mark.parametrize(
    ("spec", "match"),
    [("/dev/video99", "camera /dev/video99: no such device"), ("99", "no such device")],
)
def test_a_missing_camera_is_a_usage_error(spec: str, match: str) -> None:
    with pytest.raises(SourceError, match=match) as excinfo:
        OpenCVLiveSource(spec).start()
    assert excinfo.value.exit_code == EXIT_USAGE


class _MjpegOnce:
    """An HTTP MJPEG stream of ``count`` frames, then the connection closes."""

    def __init__(self, jpeg: bytes, count: int) -> None:
        owner = self
        self.served = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(count):
                    self.wfile.write(
                        b"--frame\r\nContent-Type: image/jpeg\r\n"
                        + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                        + jpeg
                        + b"\r\n"
                    )
                owner.served.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture()
def short_stream(images_dir: Path) -> Iterator[_MjpegOnce]:
    image = cv2.resize(read_image(images_dir / "cat.bmp"), (160, 120))
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    server = _MjpegOnce(buf.tobytes(), count=5)
    yield server
    server.close()


def test_a_stream_that_ends_during_the_run_is_a_run_time_failure(
    short_stream: _MjpegOnce,
) -> None:
    src = OpenCVLiveSource(short_stream.url, open_timeout_s=5)
    info = src.start()
    assert info.size_wh == (160, 120) and info.live
    frames = 0
    with pytest.raises(SourceLostError, match="stream ended") as excinfo:
        for _ in range(10):
            frame = src.read(timeout_s=5)
            assert frame is not None and frame.image.shape == (120, 160, 3)
            frames += 1
    src.stop()
    assert 1 <= frames <= 5
    assert excinfo.value.exit_code == EXIT_FAILED
    assert isinstance(excinfo.value, SourceError)  # what ReconnectingSource catches


def test_read_after_stop_returns_none(short_stream: _MjpegOnce) -> None:
    src = OpenCVLiveSource(short_stream.url, open_timeout_s=5)
    src.start()
    src.stop()
    assert src.read(timeout_s=0.1) is None
