"""A real HTTP MJPEG stream that drops and comes back on the same port.

The server is a stdlib ``http.server`` on 127.0.0.1 sending
``multipart/x-mixed-replace`` JPEG frames taken from a fixture video; the
client is the real ``OpenCVLiveSource`` (OpenCV's FFmpeg backend) wrapped in
``ReconnectingSource``. Killing the server closes every connection, which the
source sees as the stream ending; the factory restarts the server on its
second reopen attempt, so the first attempt meets a refused connection.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path

import cv2
import pytest

from camera_app.events import SourceEvent
from camera_app.frames import Frame
from camera_app.sources.opencv_live import OpenCVLiveSource
from camera_app.sources.reconnect import ReconnectingSource
from camera_app.stats import PipelineStats

BOUNDARY = b"frame"


def jpeg_frames(video: Path, count: int = 12) -> list[bytes]:
    cap = cv2.VideoCapture(str(video))
    out: list[bytes] = []
    while len(out) < count:
        ok, image = cap.read()
        if not ok:
            break
        ok, buf = cv2.imencode(".jpg", cv2.resize(image, (320, 180)))
        out.append(buf.tobytes())
    cap.release()
    return out


class MjpegServer:
    """Serves the frames in a loop at ~25 fps to every client until killed."""

    def __init__(self, jpegs: list[bytes], port: int = 0) -> None:
        self.jpegs = jpegs
        self.closing = threading.Event()
        self.clients: list[socket.socket] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.clients.append(self.connection)
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
                )
                self.end_headers()
                i = 0
                try:
                    while not owner.closing.is_set():
                        jpg = owner.jpegs[i % len(owner.jpegs)]
                        i += 1
                        self.wfile.write(
                            b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                            % (BOUNDARY, len(jpg), jpg)
                        )
                        owner.closing.wait(0.04)  # the stream's frame rate
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return None

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kill(self) -> None:
        """Stop listening and cut every open connection."""
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for conn in self.clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(2.0)


@pytest.fixture
def jpegs(videos_dir: Path) -> list[bytes]:
    frames = jpeg_frames(videos_dir / "bottle-detection.mp4")
    assert len(frames) == 12
    return frames


def test_stream_drop_and_restart_is_picked_up(jpegs: list[bytes]) -> None:
    server = MjpegServer(jpegs)
    url = f"http://127.0.0.1:{server.port}/stream.mjpg"
    servers = [server]
    opened = 0

    def factory() -> OpenCVLiveSource:
        nonlocal opened
        opened += 1
        if opened == 3:  # the second reopen attempt: bring the server back
            servers.append(MjpegServer(jpegs, server.port))
        return OpenCVLiveSource(url, open_timeout_s=3.0)

    events: list[SourceEvent] = []
    stats = PipelineStats()
    src = ReconnectingSource(
        factory,
        name=url,
        stall_timeout_s=3.0,
        initial_delay_s=0.1,
        max_delay_s=0.5,
        jitter=0.0,
        on_event=events.append,
        stats=stats,
    )
    t0 = time.monotonic()
    try:
        info = src.start()
        assert info.live and info.size_wh == (320, 180)
        before = [src.read(3.0) for _ in range(5)]
        server.kill()
        after: list[Frame | None] = []
        # Frames FFmpeg had buffered may still come; then the outage, then
        # frames from the restarted server.
        while len(after) < 200 and (not events or events[-1].kind != "source_up"):
            after.append(src.read(3.0))
        after += [src.read(3.0) for _ in range(5)]
    finally:
        src.stop()
        for s in servers:
            if not s.closing.is_set():
                s.kill()
    frames = [f for f in before + after if f is not None]
    assert len(frames) == len(before) + len(after)
    ids = [f.frame_id for f in frames]
    assert ids == list(range(len(frames)))
    assert [e.kind for e in events] == ["source_down", "source_up"]
    assert "reconnected after 2 attempts" in events[1].message
    assert len(servers) == 2 and opened == 3
    assert stats.reconnects == 1
    assert all(f.image.shape == (180, 320, 3) for f in frames)
    assert time.monotonic() - t0 < 20


def test_run_keeps_retrying_a_dead_stream_and_sigterm_still_stops_it(
    jpegs: list[bytes], models_dir: Path, tmp_path: Path
) -> None:
    """Issue 4: a live source that never recovers keeps retrying with capped
    back-off, and the process still exits within 2 s of SIGTERM with its
    outputs complete."""
    import json
    import signal
    import subprocess
    import sys

    server = MjpegServer(jpegs)
    url = f"http://127.0.0.1:{server.port}/stream.mjpg"
    jsonl = tmp_path / "d.jsonl"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[source]\nspec = "{url}"\nread_timeout_s = 1.0\n'
        f'[model]\npath = "{models_dir / "ssd_mobilenet_v1_coco_quant.tflite"}"\nthreads = 1\n'
        f'[sinks.jsonl]\npath = "{jsonl}"\nevents = true\n'
        "[reconnect]\ninitial_delay_s = 0.2\nmax_delay_s = 0.4\nstall_timeout_s = 1.0\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "camera_app", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()

    def wait_for(cond: object, what: str, timeout_s: float = 20.0) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if cond():  # type: ignore[operator]
                return
            if proc.poll() is not None:
                raise AssertionError(f"run exited early ({proc.returncode}): {''.join(lines)}")
            time.sleep(0.05)  # polling another process's output; bounded by the deadline
        raise AssertionError(f"timed out waiting for {what}: {''.join(lines)}")

    try:
        wait_for(
            lambda: jsonl.exists() and jsonl.read_text().count('"frame_id"') >= 5,
            "5 frames in the JSONL",  # not lines: the first line is the run's start marker
        )
        server.kill()  # and never restarted
        wait_for(lambda: sum("reconnecting" in x for x in lines) >= 1, "the source going down")
        # Several reopen attempts fail (refused) while the process stays up.
        wait_for(lambda: "source_down" in jsonl.read_text(), "the source_down event in the log")
        time.sleep(1.5)  # let a few capped back-off cycles pass (observed, not synchronised on)
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, "".join(lines)
    assert elapsed < 2.0
    records = [json.loads(x) for x in jsonl.read_text().splitlines()]  # all complete
    frames = [r for r in records if "frame_id" in r]
    events = [r["event"] for r in records if "event" in r and r["event"] != "start"]  # run marker
    assert len(frames) >= 5 and events[0] == "source_down"
    assert "source_up" not in events
