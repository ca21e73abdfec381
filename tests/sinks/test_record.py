"""Recording the annotated stream."""

from __future__ import annotations

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
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    assert len(frames) == 7
    assert frames[0].shape == (240, 320, 3)
    assert abs(int(frames[3].mean()) - 60) <= 6  # the content, not just a count


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
