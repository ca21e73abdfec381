"""Fixtures for the recording tests: real frames, a small file system, a
fake clock, and a reader that counts what a file really holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def clip_frames(videos_dir: Path) -> list[np.ndarray]:
    """60 real frames (bottle-detection.mp4, 640x360 BGR)."""
    cap = cv2.VideoCapture(str(videos_dir / "bottle-detection.mp4"))
    frames: list[np.ndarray] = []
    while len(frames) < 60:
        ok, frame = cap.read()
        assert ok, "fixture video too short"
        frames.append(frame)
    cap.release()
    return frames


class FakeClock:
    """A monotonic clock the test moves by hand (back-off without waiting)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


def decoded_frames(path: Path) -> list[av.VideoFrame]:
    """Every frame PyAV decodes from ``path``, up to the first undecodable one."""
    frames: list[av.VideoFrame] = []
    with av.open(str(path)) as container:
        try:
            for packet in container.demux(video=0):
                frames.extend(packet.decode())
        except av.error.FFmpegError:
            pass
    return frames


@pytest.fixture()
def decode() -> Callable[[Path], list[av.VideoFrame]]:
    """``decode(path)``: the frames a player gets from the file."""
    return decoded_frames
