"""Calibration frames for post-training quantisation, preprocessed as at run time.

A source spec is a video file, an image file, a folder of images, a glob
(``frames/*.jpg``), or a camera (``0``, ``/dev/video0``). Frames come out
as BGR uint8, the way OpenCV and the capture sources deliver them;
:func:`calibration_batches` turns them into the SavedModel's input batches.
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from camera_app.convert.options import Normalisation
from camera_app.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_CAMERA_SPEC = re.compile(r"^(?:\d+|/dev/video\d+)$")
_GLOB_CHARS = frozenset("*?[")
FLOAT32 = np.dtype(np.float32)


def _spread(count: int, limit: int) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all when fewer)."""
    if count <= limit:
        return list(range(count))
    return sorted(
        {round(i * (count - 1) / (limit - 1)) for i in range(limit)} if limit > 1 else {0}
    )


def _image_paths(source: str) -> list[Path] | None:
    """The image files a folder or glob names, or None when it is neither."""
    path = Path(source)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if any(c in source for c in _GLOB_CHARS):
        return sorted(
            Path(p) for p in glob.glob(source) if Path(p).suffix.lower() in IMAGE_SUFFIXES
        )
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return [path]
    return None


def _iter_images(paths: list[Path], limit: int) -> Iterator[np.ndarray]:
    for i in _spread(len(paths), limit):
        image = cv2.imread(str(paths[i]), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("calibration: skipping %s (not a readable image)", paths[i])
            continue
        yield image


def _iter_capture(source: str, limit: int) -> Iterator[np.ndarray]:
    is_camera = bool(_CAMERA_SPEC.match(source))
    if not is_camera and not Path(source).is_file():
        raise SourceError(f"calibration source {source!r}: no such file, folder or camera")
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    try:
        if not capture.isOpened():
            raise SourceError(
                f"calibration source {source!r}: cannot be opened as a video or camera"
            )
        count = 0 if is_camera else int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(_spread(count, limit)) if count > 0 else None
        index = 0
        delivered = 0
        while delivered < limit:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if wanted is None or index in wanted:
                delivered += 1
                yield frame
            index += 1
    finally:
        capture.release()


def iter_calibration_frames(source: str, limit: int) -> Iterator[np.ndarray]:
    """Up to ``limit`` BGR uint8 frames from ``source``, spread over its length.

    Raises :class:`SourceError` when the source does not exist or cannot be
    opened; a source that simply holds no frames yields nothing (callers
    decide whether that is an error).
    """
    if limit < 1:
        raise ConfigError(f"convert.calibration_frames: must be at least 1 (got {limit})")
    # TODO(lead): switch to Preprocessor/open_source — camera and picamera2
    # specs should go through camera_app.sources.open_source(spec) so a
    # calibration camera is opened exactly as `camera-app run` opens it.
    paths = _image_paths(source)
    if paths is not None:
        if not paths:
            raise SourceError(f"calibration source {source!r}: no image files found")
        yield from _iter_images(paths, limit)
        return
    yield from _iter_capture(source, limit)


def preprocess_frame(
    frame_bgr: np.ndarray,
    input_size_wh: tuple[int, int],
    normalisation: Normalisation,
    dtype: np.dtype = FLOAT32,
    channels: int = 3,
) -> np.ndarray:
    """One BGR frame -> one [1, H, W, C] model input (stretch, bilinear, RGB or gray).

    float inputs get ``(p - mean) / std``; uint8 inputs get raw pixels.
    """
    # TODO(lead): switch to Preprocessor/open_source — this is the single
    # place that must match camera_app.inference.preprocess.Preprocessor.
    if frame_bgr.ndim == 2:
        frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
    resized = cv2.resize(frame_bgr, input_size_wh, interpolation=cv2.INTER_LINEAR)
    if channels == 1:
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)[..., None]
    else:
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    if dtype == np.uint8:
        return rgb[None]
    mean = np.asarray(normalisation.mean[:channels], dtype=np.float32)
    std = np.asarray(normalisation.std[:channels], dtype=np.float32)
    return ((rgb.astype(np.float32) - mean) / std).astype(dtype)[None]


def calibration_batches(
    frames: Iterable[np.ndarray],
    input_size_wh: tuple[int, int],
    normalisation: Normalisation | None = None,
    dtype: np.dtype = FLOAT32,
    channels: int = 3,
) -> list[np.ndarray]:
    """Preprocess every frame into a [1, H, W, C] batch of the SavedModel's input dtype."""
    norm = normalisation or Normalisation()
    return [preprocess_frame(f, input_size_wh, norm, dtype, channels) for f in frames]


def pixel_range_sample(batch: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """A copy of a float batch whose first two pixels are black (0) and white (255).

    Added to the representative dataset so the calibrated input range is
    exactly what pixels 0..255 normalise to: an int8 model with uint8 inputs
    then gets input scale ``1 / std`` and zero point ``mean``, which map raw
    pixels one to one (1/255 and 0 for the ``unit`` normalisation), the way
    the runtime feeds uint8 models.
    """
    pinned = np.array(batch, dtype=batch.dtype, copy=True)
    if pinned.dtype.kind != "f" or pinned.shape[2] < 2:
        return pinned
    channels = pinned.shape[-1]
    mean = np.asarray(normalisation.mean[:channels], dtype=np.float32)
    std = np.asarray(normalisation.std[:channels], dtype=np.float32)
    pinned[0, 0, 0] = (0.0 - mean) / std
    pinned[0, 0, 1] = (255.0 - mean) / std
    return pinned


def random_batches(
    count: int,
    input_size_wh: tuple[int, int],
    normalisation: Normalisation | None = None,
    dtype: np.dtype = FLOAT32,
    channels: int = 3,
    seed: int = 0,
) -> list[np.ndarray]:
    """Random-pixel frames through the same preprocessing (agreement without a source)."""
    rng = np.random.default_rng(seed)
    w, h = input_size_wh
    frames = (rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(count))
    return calibration_batches(frames, input_size_wh, normalisation, dtype, channels)
