"""Recording the annotated stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import SinkError
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordSink


def _results(n: int, size_wh: tuple[int, int] = (320, 240)) -> list[FrameResult]:
    w, h = size_wh
    info = SourceInfo("t", "test", size_wh, fps=10.0)
    return [
        FrameResult(
            Frame(np.full((h, w, 3), i * 20, np.uint8), i, time.monotonic_ns(), info),
            "ssd",
            Detections.empty(),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv"])
def test_recording_plays_every_frame_after_close(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"r{suffix}"
    sink = RecordSink(str(path), Annotator(hud=False))
    for r in _results(7):
        sink.handle(r)
    sink.close()
    # MJPEG: compressed by libjpeg-turbo here, FFmpeg only muxes
    assert sink.raw_jpeg is (suffix != ".mp4")
    frames = _read_all(path)
    assert len(frames) == 7
    assert frames[0].shape == (240, 320, 3)
    assert [round(f.mean() / 20) for f in frames] == list(range(7))  # the content, in order


def _read_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    return frames


def test_jpeg_quality_sets_the_size(tmp_path: Path) -> None:
    sizes = []
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (240, 320, 3), np.uint8)
    info = SourceInfo("t", "test", (320, 240), fps=10.0)
    for q in (30, 95):
        path = tmp_path / f"q{q}.mkv"
        sink = RecordSink(str(path), Annotator(hud=False), jpeg_quality=q)
        for i in range(3):
            sink.handle(FrameResult(Frame(noise, i, 0, info), "ssd", Detections.empty()))
        sink.close()
        assert len(_read_all(path)) == 3
        sizes.append(path.stat().st_size)
    assert sizes[1] > 1.5 * sizes[0]


_KILLED_WRITER = """
import os, signal, sys, time
import numpy as np
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordSink
info = SourceInfo("t", "test", (320, 240), fps=10.0)
sink = RecordSink(sys.argv[1], Annotator(hud=False))
noise = np.random.default_rng(0).integers(0, 255, (160, 320, 3), np.uint8)  # ~30 KB a frame
for i in range(40):
    image = np.full((240, 320, 3), (i % 12) * 20, np.uint8)
    image[:160] = noise
    sink.handle(FrameResult(Frame(image, i, 0, info), "ssd", Detections.empty()))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_avi_recording_survives_a_hard_kill(tmp_path: Path) -> None:
    path = tmp_path / "killed.avi"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    frames = _read_all(path)
    # no index was written; FFmpeg's write buffer (256 KB) is all that is lost,
    # and the last frame in the file may be cut short
    assert 28 <= len(frames) < 40
    whole = frames[:-1]
    assert [round(f[170:].mean() / 20) for f in whole] == [i % 12 for i in range(len(whole))]


def test_recording_at_the_overlay_width(tmp_path: Path) -> None:
    path = tmp_path / "r.avi"
    sink = RecordSink(str(path), Annotator(hud=False, max_width=160))
    for r in _results(3):
        sink.handle(r)
    sink.close()
    cap = cv2.VideoCapture(str(path))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)


@pytest.mark.parametrize(
    ("name", "match"),
    [("r.txt", "unsupported file type"), ("nodir/r.mp4", "does not exist"), ("", "unsupported")],
)
def test_bad_recording_paths(tmp_path: Path, name: str, match: str) -> None:
    with pytest.raises(SinkError, match=match):
        RecordSink(str(tmp_path / name) if name else str(tmp_path))


def _live_results(times_ms: list[int]) -> list[FrameResult]:
    """A live camera at 10 fps whose frames inference partly dropped."""
    info = SourceInfo("cam", "test", (64, 48), fps=10.0, live=True)
    t0 = time.monotonic_ns()
    return [
        FrameResult(
            Frame(np.full((48, 64, 3), i * 40, np.uint8), i, t0 + ms * 1_000_000, info),
            "ssd",
            Detections.empty(),
        )
        for i, ms in enumerate(times_ms)
    ]


def _positions(path: Path) -> list[tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while (got := cap.read())[0]:
        out.append((round(cap.get(cv2.CAP_PROP_POS_MSEC)), round(got[1].mean() / 40)))
    cap.release()
    return out


def test_live_mkv_recording_keeps_capture_times(tmp_path: Path) -> None:
    path = tmp_path / "live.mkv"
    sink = RecordSink(str(path), Annotator(hud=False))
    for r in _live_results([0, 100, 200, 500, 600, 1000]):
        sink.handle(r)
    sink.close()
    assert _positions(path) == [(0, 0), (100, 1), (200, 2), (500, 3), (600, 4), (1000, 5)]


def test_live_avi_recording_repeats_frames_over_gaps_up_to_a_second(tmp_path: Path) -> None:
    path = tmp_path / "live.avi"
    sink = RecordSink(str(path), Annotator(hud=False))
    for r in _live_results([0, 100, 400, 500, 3500, 3600]):
        sink.handle(r)
    sink.close()
    shown = [v for _, v in _positions(path)]
    # 100 -> 400 ms: two repeats; 500 -> 3500 ms: capped at 10 (a second)
    assert shown == [0, 1, 1, 1, 2, 3, *[3] * 10, 4, 5]
    assert sink.frames_written == len(shown)


def test_replayed_files_are_recorded_one_frame_per_result(tmp_path: Path) -> None:
    path = tmp_path / "replay.mkv"
    sink = RecordSink(str(path), Annotator(hud=False))
    for r in _results(4):  # not live: timestamps say nothing about the file's timeline
        sink.handle(r)
    sink.close()
    assert [ms for ms, _ in _positions(path)] == [0, 100, 200, 300]
