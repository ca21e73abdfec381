"""End-to-end output tests: ``camera-app run`` as a subprocess (the way the
service runs it), its HTTP server, and readers that count what files hold.

``app`` starts runs (``app.start(argv)``) and kills what is left at the end
of the test; a run's stderr is read on a thread into ``run.lines``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import av.error
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
CLIP = "one-by-one-person-detection.mp4"
"""768x432 at 10 fps, 1394 frames."""
GIF = "face-demographics-walking.gif"
"""480x270 at 12.5 fps, 35 frames."""


class AppRun:
    """One ``python -m camera_app ARGV`` process."""

    def __init__(self, argv: list[str], cwd: Path, port: int | None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env["PYTHONPATH"] = str(REPO)
        self.port = port
        self.argv = argv
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "camera_app", *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def get(self, path: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
        assert self.port is not None, "started without --http"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stats(self) -> dict[str, Any]:
        status, body = self.get("/api/stats")
        assert status == 200, body
        result: dict[str, Any] = json.loads(body)
        return result

    def try_stats(self) -> dict[str, Any] | None:
        """The stats, or None while the server is not up yet."""
        try:
            return self.stats()
        except OSError:
            return None

    def wait_for(
        self, condition: Callable[[], Any], what: str, timeout_s: float = 60.0, every_s: float = 0.1
    ) -> Any:
        """Poll ``condition`` (another process's state) until it is truthy."""
        end = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"run exited ({self.proc.returncode}) before {what}:\n{self.stderr}"
                )
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}:\n{self.stderr}")
            time.sleep(every_s)  # polling another process; bounded by the deadline

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait: the service's way to stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout_s)
        self._reader.join(5.0)
        return code

    def wait(self, timeout_s: float = 60.0) -> int:
        code = self.proc.wait(timeout_s)
        self._reader.join(5.0)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5.0)


class AppRunner:
    def __init__(self, models_dir: Path, videos_dir: Path, cwd: Path) -> None:
        self.models_dir = models_dir
        self.videos_dir = videos_dir
        self.cwd = cwd
        self.runs: list[AppRun] = []

    def args(self, source: str = CLIP, *extra: str) -> list[str]:
        """``run`` with the SSD model on one thread and a fixture clip."""
        return [
            "run",
            "--model",
            str(self.models_dir / SSD),
            "--threads",
            "1",
            "--source",
            str(self.videos_dir / source),
            *extra,
        ]

    def start(self, argv: list[str], http: bool = False) -> AppRun:
        port = free_port() if http else None
        if port is not None:
            argv = [*argv, "--http", f"127.0.0.1:{port}"]
        run = AppRun(argv, self.cwd, port)
        self.runs.append(run)
        return run

    def run(self, argv: list[str], timeout_s: float = 90.0) -> AppRun:
        """Start and wait for the end."""
        run = self.start(argv)
        run.wait(timeout_s)
        return run


@pytest.fixture()
def app(models_dir: Path, videos_dir: Path, tmp_path: Path) -> Iterator[AppRunner]:
    runner = AppRunner(models_dir, videos_dir, tmp_path)
    try:
        yield runner
    finally:
        for run in runner.runs:
            run.kill()


def frames_in(path: Path) -> int:
    """Frames a player decodes from ``path``, up to the first damaged one."""
    n = 0
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                n += len(packet.decode())
    except av.error.FFmpegError:
        pass
    return n


@pytest.fixture()
def count_frames() -> Callable[[Path], int]:
    return frames_in


def whole_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, asserting none is torn."""
    text = path.read_text()
    assert text.endswith("\n"), f"torn last line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture()
def read_jsonl() -> Callable[[Path], list[dict[str, Any]]]:
    return whole_json_lines
