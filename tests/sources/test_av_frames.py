"""PyAV frames with BGR on demand (camera_app/sources/av_frames.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from camera_app.frames import SourceInfo
from camera_app.sources.av_frames import BgrOnDemand, luma_of

INFO = SourceInfo("test", "video", (640, 360))


def decoded(path: Path, n: int) -> Iterator[Any]:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= n:
                break
            yield frame


def opencv_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        return [cap.read()[1] for _ in range(n)]
    finally:
        cap.release()


@pytest.mark.parametrize(
    "name",
    ["bottle-detection.mp4", "one-by-one-person-detection.mp4", "face-demographics-walking.gif"],
)
def test_converted_pixels_are_exactly_opencvs(videos_dir: Path, name: str) -> None:
    path = videos_dir / name
    reference = opencv_frames(path, 20)
    bgr = BgrOnDemand()
    for i, d in enumerate(decoded(path, 20)):
        frame = bgr.frame(d, i, 0, INFO)
        np.testing.assert_array_equal(frame.image, reference[i])
        assert frame.image.flags.c_contiguous
    assert bgr.conversions == 20


def test_frames_are_converted_only_when_read_once_each(videos_dir: Path) -> None:
    bgr = BgrOnDemand()
    frames = [
        bgr.frame(d, i, 0, INFO)
        for i, d in enumerate(decoded(videos_dir / "bottle-detection.mp4", 10))
    ]
    assert bgr.conversions == 0 and not any(f.image_ready for f in frames)
    assert all(f.size_wh == (640, 360) for f in frames)  # without converting
    for f in frames[::3]:
        assert f.image is f.image
    assert bgr.conversions == 4 and [f.image_ready for f in frames].count(True) == 4


def test_luma_is_the_grey_of_the_converted_frame_within_rounding(videos_dir: Path) -> None:
    bgr = BgrOnDemand()
    for i, d in enumerate(decoded(videos_dir / "bottle-detection.mp4", 30)):
        frame = bgr.frame(d, i, 0, INFO)
        assert frame.luma is not None and frame.luma.shape == (360, 640)
        assert frame.luma_range == "limited" and not frame.luma.flags.writeable
        assert not frame.image_ready  # the Y plane is there before any conversion
        expanded = np.clip(np.round((frame.luma.astype(int) - 16) * 255 / 219), 0, 255)
        diff = np.abs(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY).astype(int) - expanded)
        assert np.median(diff) <= 1 and np.percentile(diff, 99) <= 2  # saturated colours clip


def test_a_full_range_frame_says_so_and_rgb_formats_have_no_luma(videos_dir: Path) -> None:
    yuv = next(decoded(videos_dir / "bottle-detection.mp4", 1))
    full = yuv.reformat(format="yuvj420p")
    assert luma_of(full)[1] == "full"
    gif = next(decoded(videos_dir / "face-demographics-walking.gif", 1))
    assert gif.format.name == "bgra" and luma_of(gif) == (None, "full")


def test_converted_images_come_from_the_pool(videos_dir: Path) -> None:
    bgr = BgrOnDemand()
    for i, d in enumerate(decoded(videos_dir / "bottle-detection.mp4", 20)):
        assert bgr.frame(d, i, 0, INFO).image.shape == (360, 640, 3)  # read, then released
    assert bgr.pool.allocations <= 2
