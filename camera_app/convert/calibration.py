"""Calibration frames for post-training quantisation, preprocessed as at run time.

A source spec is anything ``camera-app run --source`` takes: a video file,
an image file, a folder of images, a glob (``frames/*.jpg``), a camera
(``0``, ``/dev/video0``, ``picamera2``) or a stream URL. Frames come out
as BGR uint8, the way OpenCV and the capture sources deliver them;
:func:`calibration_batches` turns them into the SavedModel's input batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from camera_app.convert.options import Normalisation
from camera_app.errors import ConfigError, SourceError
from camera_app.inference.preprocess import Preprocessor
from camera_app.inference.types import TensorInfo
from camera_app.sources import SourceOptions, open_source

log = logging.getLogger(__name__)

FLOAT32 = np.dtype(np.float32)
LIVE_SPACING_S = 0.2
"""Live calibration sources: keep frames at least this far apart (variety)."""


def _spread(count: int, limit: int) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all when fewer)."""
    if count <= limit:
        return list(range(count))
    return sorted(
        {round(i * (count - 1) / (limit - 1)) for i in range(limit)} if limit > 1 else {0}
    )


def iter_calibration_frames(source: str, limit: int) -> Iterator[np.ndarray]:
    """Up to ``limit`` BGR uint8 frames from ``source``, spread over its length.

    The source is opened by :func:`camera_app.sources.open_source`, exactly as
    ``camera-app run`` opens it (video, images, V4L2, streams, picamera2).
    Raises :class:`SourceError` when it cannot be opened; a source that holds
    no frames yields nothing (the caller decides whether that is an error).
    """
    if limit < 1:
        raise ConfigError(f"convert.calibration_frames: must be at least 1 (got {limit})")
    src = open_source(source, SourceOptions(mode="every-frame"))
    try:
        info = src.start()
    except SourceError as e:
        raise SourceError(f"calibration source: {e}") from e
    try:
        wanted = (
            set(_spread(info.frame_count, limit)) if info.frame_count and not info.live else None
        )
        delivered, index, last_ns = 0, 0, 0
        while delivered < limit:
            frame = src.read()
            if frame is None:
                break
            keep = (
                (index in wanted)
                if wanted is not None
                else (not info.live or frame.timestamp_ns - last_ns >= LIVE_SPACING_S * 1e9)
            )
            index += 1
            if keep:
                delivered += 1
                last_ns = frame.timestamp_ns
                yield frame.image
    finally:
        src.stop()


def _preprocessor(
    input_size_wh: tuple[int, int], normalisation: Normalisation, dtype: np.dtype, channels: int
) -> tuple[Preprocessor, np.ndarray]:
    w, h = input_size_wh
    tensor = TensorInfo("input", 0, (1, h, w, channels), np.dtype(dtype))
    m, sd = normalisation.mean, normalisation.std
    mean = (float(m[0]), float(m[1]), float(m[2]))
    std = (float(sd[0]), float(sd[1]), float(sd[2]))
    pre = Preprocessor(
        tensor,
        "stretch",
        mean,
        std,
        color="GRAY" if channels == 1 else "RGB",
        raw_uint8=True,
    )
    return pre, np.empty((1, h, w, channels), dtype)


def preprocess_frame(
    frame_bgr: np.ndarray,
    input_size_wh: tuple[int, int],
    normalisation: Normalisation,
    dtype: np.dtype = FLOAT32,
    channels: int = 3,
) -> np.ndarray:
    """One BGR frame -> one [1, H, W, C] model input, through the run-time
    :class:`~camera_app.inference.preprocess.Preprocessor` (stretch, bilinear,
    RGB or grey; float inputs ``(p - mean) / std``, uint8 raw pixels)."""
    pre, out = _preprocessor(input_size_wh, normalisation, np.dtype(dtype), channels)
    pre(frame_bgr, "BGR", out[0])
    return out


def calibration_batches(
    frames: Iterable[np.ndarray],
    input_size_wh: tuple[int, int],
    normalisation: Normalisation | None = None,
    dtype: np.dtype = FLOAT32,
    channels: int = 3,
) -> list[np.ndarray]:
    """Preprocess every frame into a [1, H, W, C] batch of the SavedModel's input dtype."""
    pre, _ = _preprocessor(
        input_size_wh, normalisation or Normalisation(), np.dtype(dtype), channels
    )
    w, h = input_size_wh
    batches = []
    for f in frames:
        out = np.empty((1, h, w, channels), dtype)
        pre(f, "BGR", out[0])
        batches.append(out)
    return batches


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
