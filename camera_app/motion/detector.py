"""Motion on a small grey frame: running-average background, difference,
threshold, dilation, blobs above a minimum area.

The frame (BGR/RGB, or a grey plane such as picamera2's lores Y plane or a
decoded video's ``Frame.luma``, used as is; video-range luma, 16-235, is
stretched to 0-255 after the resize, so it matches the grey of the BGR
frame) is resized to ``frame_height`` rows, made grey, optionally
contrast-stretched, lightly blurred and compared with a running average of
the previous frames (``cv2.accumulateWeighted``). Pixels that differ by more
than ``threshold`` grey levels, outside the mask polygons, are "changed";
after one dilation, the outlines (``cv2.findContours``) that enclose at least
``contour_area`` (motion-frame pixels) are motion boxes, reported in frame
pixels. When more than ``lightning_threshold`` of the frame changes at once
(lights switched on, auto-exposure): more of its pixels changed, or got
brighter (or darker) by at least half the threshold, the background is reset
to the current frame and the frame reports ``recalibrated`` instead of
motion. The second test catches a brightness step on a scene with a bright
wall: stretched with the previous frames' limits, the wall clips at 255 and
changes by less than the threshold.

All buffers are allocated once per input size; the detector holds no clock
(deterministic for the same frames) and is not thread-safe (one caller).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

import cv2
import numpy as np

from camera_app.motion.config import MotionConfig, check_mask_fits, check_motion
from camera_app.motion.mask import ignore_mask
from camera_app.results import Motion

log = logging.getLogger(__name__)

_LOW_PCT, _HIGH_PCT = 0.04, 0.96  # improve_contrast: stretch between these percentiles
_MAX_GAIN = 4.0  # improve_contrast stretches at most this much (a flat, noisy night scene)
_CONTRAST_HISTORY = 50  # frames: running average of the stretch limits (as Frigate)
_BLUR_TAPS = np.array([1, 2, 1], np.float32)
"""The 3x3 Gaussian blur (sigma 0) as two passes of integer taps: see :func:`_blur3`."""
_KERNEL = np.ones((3, 3), np.uint8)
_NO_BOXES = np.zeros((0, 4), np.float32)
_NO_BOXES.flags.writeable = False
_GREY_CODES = {
    ("BGR", 3): cv2.COLOR_BGR2GRAY,
    ("RGB", 3): cv2.COLOR_RGB2GRAY,
    ("BGR", 4): cv2.COLOR_BGRA2GRAY,
    ("RGB", 4): cv2.COLOR_RGBA2GRAY,
}
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
"""Video-range luma (16-235) to the 0-255 grey of the converted BGR frame."""


@dataclass(frozen=True, slots=True, eq=False)
class MotionResult:
    """What the detector found in one frame."""

    motion: bool
    """At least one changed area of ``contour_area`` or more (never on a recalibration)."""
    boxes_xyxy: np.ndarray
    """(N, 4) float32 motion boxes in frame pixels."""
    changed_fraction: float
    """Changed pixels over the pixels outside the mask, 0-1 (before dilation)."""
    recalibrated: bool
    """The background was (re)set to this frame: the first frame, a new
    size, or more than ``lightning_threshold`` of the frame changed."""
    changed: np.ndarray | None = field(default=None, repr=False)
    """With ``keep_changed``: the changed pixels at the motion frame's size
    (uint8, 255 = changed), a copy the caller may keep."""

    def __post_init__(self) -> None:
        b = self.boxes_xyxy
        if b.ndim != 2 or b.shape[1] != 4 or b.dtype != np.float32:
            raise ValueError(f"boxes_xyxy: expected (N, 4) float32, got {b.shape} {b.dtype}")

    def to_motion(self) -> Motion:
        """The :class:`camera_app.results.Motion` that results carry."""
        return Motion(self.motion, self.boxes_xyxy, self.changed_fraction, self.recalibrated)

    @classmethod
    def still(cls, recalibrated: bool = False, changed_fraction: float = 0.0) -> MotionResult:
        return cls(False, _NO_BOXES, changed_fraction, recalibrated)


class MotionDetection(Protocol):
    """What the pipeline needs from a motion detector (one implementation here)."""

    def detect(
        self,
        image: np.ndarray,
        timestamp_ns: int,
        *,
        frame_size_wh: tuple[int, int] | None = None,
        channel_order: Literal["BGR", "RGB"] = "BGR",
        grey_range: Literal["full", "limited"] = "full",
    ) -> MotionResult: ...

    def reset(self) -> None: ...


class _Plan:
    """Buffers and constants for one input shape."""

    def __init__(
        self,
        config: MotionConfig,
        shape: tuple[int, ...],
        frame_size_wh: tuple[int, int],
    ) -> None:
        in_h, in_w = shape[:2]
        h = min(config.frame_height, in_h)
        w = max(1, round(in_w * h / in_h))
        self.size_wh = (w, h)
        fw, fh = frame_size_wh
        self.scale_xyxy = np.array([fw / w, fh / h, fw / w, fh / h], np.float32)
        self.colour = np.empty((h, w, shape[2]), np.uint8) if len(shape) == 3 else None
        self.grey = np.empty((h, w), np.uint8)
        self.work = np.empty((h, w), np.uint8)
        self.blur_sum = np.empty((h, w), np.uint16)
        self.bg = np.empty((h, w), np.float32)
        self.bg_u8 = np.empty((h, w), np.uint8)
        self.diff = np.empty((h, w), np.uint8)
        self.changed = np.empty((h, w), np.uint8)
        self.dilated = np.empty((h, w), np.uint8)
        self.ignore = ignore_mask(config.mask, self.size_wh, frame_size_wh)
        self.keep = None if self.ignore is None else cv2.bitwise_not(self.ignore)
        self.active_px = w * h - (0 if self.ignore is None else cv2.countNonZero(self.ignore))
        self.hist = np.empty((256, 1), np.float32)
        self.cdf = np.empty(256, np.float32)
        self.ramp = np.arange(256, dtype=np.float32)
        self.lut_f = np.empty(256, np.float32)
        self.lut = np.empty(256, np.uint8)
        self.low_high: tuple[float, float] | None = None
        self.initialised = False


class MotionDetector:
    """Frame in, :class:`MotionResult` out. Build once from a
    :class:`MotionConfig` (validated here); call :meth:`detect` per frame."""

    def __init__(self, config: MotionConfig, *, keep_changed: bool = False) -> None:
        check_motion(config)
        self.config = config
        self.keep_changed = keep_changed
        self.frames = 0
        self.recalibrations = 0
        """Lightning-style resets (not counting the first frame of a size)."""
        self._background_ns = config.background_s * 1e9
        self._plan: _Plan | None = None
        self._key: tuple[object, ...] | None = None
        self._last_ns: int | None = None

    @property
    def size_wh(self) -> tuple[int, int] | None:
        """The motion frame's size once the first frame was seen."""
        return None if self._plan is None else self._plan.size_wh

    def reset(self) -> None:
        """Forget the background: the next frame starts a new one."""
        self._last_ns = None
        if self._plan is not None:
            self._plan.initialised = False
            self._plan.low_high = None

    def detect(
        self,
        image: np.ndarray,
        timestamp_ns: int,
        *,
        frame_size_wh: tuple[int, int] | None = None,
        channel_order: Literal["BGR", "RGB"] = "BGR",
        grey_range: Literal["full", "limited"] = "full",
    ) -> MotionResult:
        """Motion in ``image``: HxW uint8 grey (e.g. a Y plane, 0-255, or
        16-235 video levels with ``grey_range="limited"``) or HxWx3/4
        uint8 colour, captured at ``timestamp_ns`` (any clock: capture time
        live, media time on replay; it paces the background's running
        average). Boxes are in pixels of a ``frame_size_wh`` frame with the
        same field of view (the main stream when ``image`` is lores);
        absent: ``image``'s own pixels. Timestamps that go back (a looped
        replay) start a new background."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            got = f"{image.dtype} array" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image: expected a uint8 array, got {got}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        code = None
        if image.ndim == 3:
            code = _GREY_CODES.get((channel_order, image.shape[2]))
        if image.ndim not in (2, 3) or (image.ndim == 3 and code is None) or 0 in image.shape:
            raise ValueError(
                f"image: expected HxW grey or HxWx3/4 {channel_order} uint8, got shape {image.shape}"
            )
        if frame_size_wh is None:
            frame_size_wh = (int(image.shape[1]), int(image.shape[0]))
        elif min(frame_size_wh) < 1:
            raise ValueError(
                f"frame_size_wh: expected positive (width, height), got {frame_size_wh}"
            )
        key = (image.shape, code, tuple(frame_size_wh))
        if key != self._key:
            check_mask_fits(self.config, frame_size_wh)
            self._plan, self._key = _Plan(self.config, image.shape, frame_size_wh), key
            log.debug("motion frame %dx%d for input %s", *self._plan.size_wh, image.shape)
        p = self._plan
        assert p is not None
        self.frames += 1

        if p.colour is not None and code is not None:
            cv2.resize(image, p.size_wh, dst=p.colour, interpolation=cv2.INTER_LINEAR)
            cv2.cvtColor(p.colour, code, dst=p.grey)
        else:
            cv2.resize(image, p.size_wh, dst=p.grey, interpolation=cv2.INTER_LINEAR)
            if grey_range == "limited":  # after the resize: a few thousand pixels, not a frame
                cv2.LUT(p.grey, _LIMITED_TO_FULL, dst=p.grey)
        last_ns, self._last_ns = self._last_ns, timestamp_ns
        if not p.initialised or last_ns is None or timestamp_ns < last_ns:
            self._prepare(p, fresh=True)
            np.copyto(p.bg, p.work)
            p.initialised = True
            return MotionResult.still(recalibrated=True)
        self._prepare(p, fresh=False)

        cv2.convertScaleAbs(p.bg, dst=p.bg_u8)
        cv2.absdiff(p.work, p.bg_u8, dst=p.diff)
        cv2.threshold(p.diff, self.config.threshold, 255, cv2.THRESH_BINARY, dst=p.changed)
        if p.keep is not None:
            cv2.bitwise_and(p.changed, p.keep, dst=p.changed)
        n_changed = cv2.countNonZero(p.changed)
        fraction = n_changed / p.active_px if p.active_px else 0.0
        lightning = fraction
        if n_changed:
            lightning = max(fraction, self._shifted_fraction(p))
        if lightning > self.config.lightning_threshold:
            self.recalibrations += 1
            log.debug("motion: %.0f%% of the frame changed: recalibrating", lightning * 100)
            self._restart(p)
            return MotionResult.still(recalibrated=True, changed_fraction=fraction)

        boxes = _NO_BOXES
        if n_changed:
            cv2.dilate(p.changed, _KERNEL, dst=p.dilated)
            contours, _ = cv2.findContours(p.dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            area = self.config.contour_area
            rects = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= area]
            if rects:
                xyxy = np.array(rects, np.float32)
                xyxy[:, 2:] += xyxy[:, :2]
                boxes = xyxy * p.scale_xyxy
        alpha = 1.0 - math.exp((last_ns - timestamp_ns) / self._background_ns)
        if alpha > 0:
            cv2.accumulateWeighted(p.work, p.bg, alpha)
        changed = p.changed.copy() if self.keep_changed else None
        return MotionResult(len(boxes) > 0, boxes, fraction, False, changed)

    def _shifted_fraction(self, p: _Plan) -> float:
        """The larger fraction of the frame that got brighter, or darker, by
        at least half the threshold: lights and exposure move most of the
        frame one way. (With ``improve_contrast`` a brighter frame is
        stretched with the previous frames' limits, so a bright wall clips
        at 255 and changes by less than the threshold: counted here.)"""
        half = max(1, self.config.threshold // 2)
        shifted = 0
        for a, b in ((p.work, p.bg_u8), (p.bg_u8, p.work)):
            cv2.subtract(a, b, dst=p.dilated)  # saturating: one direction only
            cv2.threshold(p.dilated, half - 1, 255, cv2.THRESH_BINARY, dst=p.dilated)
            if p.keep is not None:
                cv2.bitwise_and(p.dilated, p.keep, dst=p.dilated)
            shifted = max(shifted, cv2.countNonZero(p.dilated))
        return shifted / p.active_px if p.active_px else 0.0

    def _prepare(self, p: _Plan, fresh: bool) -> None:
        """grey -> work: contrast stretch (if on) and blur."""
        if self.config.improve_contrast:
            self._stretch(p, fresh)
            cv2.LUT(p.grey, p.lut, dst=p.work)
        else:
            np.copyto(p.work, p.grey)
        _blur3(p.work, p.blur_sum)

    def _restart(self, p: _Plan) -> None:
        """Background := this frame (contrast limits from this frame alone)."""
        if self.config.improve_contrast:
            self._prepare(p, fresh=True)
        np.copyto(p.bg, p.work)

    def _stretch(self, p: _Plan, fresh: bool) -> None:
        """Update the running stretch limits from this frame and rebuild the LUT."""
        cv2.calcHist([p.grey], [0], p.keep, [256], [0, 256], hist=p.hist)
        np.cumsum(p.hist[:, 0], out=p.cdf)
        total = float(p.cdf[-1])
        if total > 0:
            low = float(np.searchsorted(p.cdf, _LOW_PCT * total))
            high = float(np.searchsorted(p.cdf, _HIGH_PCT * total))
            if high > low:  # a flat frame keeps the previous limits
                if fresh or p.low_high is None:
                    p.low_high = (low, high)
                else:
                    k = 1.0 / _CONTRAST_HISTORY
                    lo0, hi0 = p.low_high
                    p.low_high = (lo0 + k * (low - lo0), hi0 + k * (high - hi0))
        lo, hi = p.low_high if p.low_high is not None else (0.0, 255.0)
        span = max(hi - lo, 255.0 / _MAX_GAIN)
        lo = (lo + hi - span) / 2
        np.subtract(p.ramp, lo, out=p.lut_f)
        np.multiply(p.lut_f, 255.0 / span, out=p.lut_f)
        np.add(p.lut_f, 0.5, out=p.lut_f)
        np.clip(p.lut_f, 0, 255, out=p.lut_f)
        np.copyto(p.lut, p.lut_f, casting="unsafe")


def _blur3(image: np.ndarray, sums: np.ndarray) -> None:
    """``cv2.GaussianBlur(image, (3, 3), 0)`` in place, bit for bit, on one
    thread: OpenCV splits every GaussianBlur across its thread pool, which on
    a motion frame costs a worker's wake-up per frame, more than the blur
    (0.1 CPU s per 20 s at 30 fps on the dev VM). The 1-2-1 sums are exact in
    ``sums`` (uint16); OpenCV's fixed-point blur rounds (sum + 8) >> 4, which
    is ``sum / 16 + 1/64`` rounded (never a tie)."""
    cv2.sepFilter2D(image, cv2.CV_16U, _BLUR_TAPS, _BLUR_TAPS, dst=sums)
    cv2.convertScaleAbs(sums, dst=image, alpha=1 / 16, beta=1 / 64)
