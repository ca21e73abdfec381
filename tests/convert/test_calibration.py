"""Calibration frames and their preprocessing (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.convert.calibration import (
    calibration_batches,
    iter_calibration_frames,
    pixel_range_sample,
    random_batches,
)
from camera_app.convert.options import Normalisation
from camera_app.errors import ConfigError, SourceError

GIF = "face-demographics-walking.gif"  # 35 frames, 480x270
MP4 = "one-by-one-person-detection.mp4"  # 1394 frames, 768x432


def _write_images(folder: Path, count: int, suffix: str = ".png") -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img_{i:02d}{suffix}"
        cv2.imwrite(str(path), np.full((8, 12, 3), i * 10, np.uint8))
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("video", "limit", "expected", "shape"),
    [
        (GIF, 10, 10, (270, 480, 3)),
        (GIF, 100, 35, (270, 480, 3)),  # fewer frames than asked: all of them
        (MP4, 5, 5, (432, 768, 3)),
    ],
)
def test_video_frames_spread(
    videos_dir: Path, video: str, limit: int, expected: int, shape: tuple[int, ...]
) -> None:
    frames = list(iter_calibration_frames(str(videos_dir / video), limit))
    assert len(frames) == expected
    assert all(f.shape == shape and f.dtype == np.uint8 for f in frames)
    # Spread over the video, not its first seconds: first and last differ.
    assert not np.array_equal(frames[0], frames[-1])


def test_frames_come_from_the_whole_video(videos_dir: Path) -> None:
    frames = list(iter_calibration_frames(str(videos_dir / GIF), 3))
    capture = cv2.VideoCapture(str(videos_dir / GIF))
    last = None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        last = frame
    capture.release()
    assert last is not None
    np.testing.assert_array_equal(frames[-1], last)


@pytest.mark.parametrize(
    ("spec", "limit", "values"),
    [
        ("{dir}", 10, [0, 10, 20, 30]),
        ("{dir}", 2, [0, 30]),  # first and last of the sorted folder
        ("{dir}/img_0[12].png", 10, [10, 20]),
        ("{dir}/img_03.png", 10, [30]),
    ],
)
def test_image_folder_glob_and_file(
    tmp_path: Path, spec: str, limit: int, values: list[int]
) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder, 4)
    (folder / "notes.txt").write_text("not an image")
    frames = list(iter_calibration_frames(spec.format(dir=folder), limit))
    assert [int(f[0, 0, 0]) for f in frames] == values


def test_unreadable_images_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder, 2)
    (folder / "img_99.jpg").write_bytes(b"not a jpeg")
    assert len(list(iter_calibration_frames(str(folder), 10))) == 2


@pytest.mark.parametrize(
    ("make_spec", "match"),
    [
        (lambda root: str(root / "missing.mp4"), "video file not found"),
        (lambda root: str(root), "no images"),
        (lambda root: str(root / "*.jpg"), "no images"),
    ],
)
def test_bad_sources(tmp_path: Path, make_spec: object, match: str) -> None:
    spec = make_spec(tmp_path)  # type: ignore[operator]
    with pytest.raises(SourceError, match=match):
        list(iter_calibration_frames(spec, 5))


def test_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(SourceError, match="cannot be opened"):
        list(iter_calibration_frames(str(path), 5))


def test_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        list(iter_calibration_frames(str(tmp_path), 0))


@pytest.mark.parametrize(
    ("norm", "pixel", "expected"),
    [
        (Normalisation(), 255, 1.0),
        (Normalisation(), 0, 0.0),
        (Normalisation.preset("symmetric"), 0, -1.0),
        (Normalisation.preset("symmetric"), 255, 1.0),
        (Normalisation.preset("raw"), 200, 200.0),
    ],
)
def test_batches_normalise(norm: Normalisation, pixel: int, expected: float) -> None:
    frame = np.full((30, 40, 3), pixel, np.uint8)
    (batch,) = calibration_batches([frame], (16, 8), norm)
    assert batch.shape == (1, 8, 16, 3) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, expected, atol=1e-6)


def test_batches_are_rgb_and_stretched() -> None:
    frame = np.zeros((20, 10, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    (batch,) = calibration_batches([frame], (6, 4))
    assert batch.shape == (1, 4, 6, 3)
    np.testing.assert_allclose(batch[0, ..., 2], 1.0)  # blue is the last RGB channel
    np.testing.assert_allclose(batch[0, ..., :2], 0.0)


def test_uint8_and_gray_inputs() -> None:
    frame = np.full((10, 10, 3), 77, np.uint8)
    (raw,) = calibration_batches([frame], (5, 5), dtype=np.dtype(np.uint8))
    assert raw.dtype == np.uint8 and int(raw.max()) == 77
    (gray,) = calibration_batches([frame], (5, 5), channels=1)
    assert gray.shape == (1, 5, 5, 1)


def test_pixel_range_sample_pins_extremes() -> None:
    norm = Normalisation.preset("symmetric")
    (batch,) = calibration_batches([np.full((8, 8, 3), 100, np.uint8)], (8, 8), norm)
    pinned = pixel_range_sample(batch, norm)
    assert float(pinned.min()) == pytest.approx(-1.0) and float(pinned.max()) == pytest.approx(1.0)
    assert float(batch.min()) > -1.0  # the original is left alone


def test_random_batches_are_reproducible() -> None:
    a = random_batches(3, (8, 8), seed=1)
    b = random_batches(3, (8, 8), seed=1)
    assert len(a) == 3
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert 0.0 <= float(a[0].min()) and float(a[0].max()) <= 1.0
