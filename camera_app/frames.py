"""Frame: the pixels a source captured plus when and where they came from."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

ChannelOrder = Literal["RGB", "BGR"]
LumaRange = Literal["full", "limited"]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source says about itself once opened."""

    name: str
    """The source string as given (``picamera2:0``, a path, a URL...)."""
    kind: str
    """``picamera2``, ``video``, ``images``, ``v4l2``, ``stream``..."""
    size_wh: tuple[int, int]
    """Size of :attr:`Frame.image` in pixels (width, height)."""
    fps: float | None = None
    """Nominal frame rate, if the source has one."""
    frame_count: int | None = None
    """Number of frames for files, when known."""
    live: bool = False
    """Live sources drop the oldest frame when the pipeline is behind."""


class Frame:
    """One captured frame.

    ``image`` is HxWx3 uint8 in ``channel_order`` (BGR for everything read
    through OpenCV or PyAV, so sinks can draw and encode it directly). A
    source may add ``lores``: a smaller image of the same field of view
    (picamera2's lores stream) that inference uses instead; results are
    still reported in ``image`` pixels.

    A source that decodes YUV (video files through PyAV) may build the frame
    with ``convert`` instead of ``image``: a function that returns the BGR
    image, called the first time anything reads :attr:`image` (inference,
    a sink that draws or encodes), once, whichever thread asks first. A
    frame nothing looks at (a still scene the motion gate skips, with no
    sink that wants pixels) is never converted. Such a frame also carries
    ``luma``: its decoded Y plane, HxW uint8 at ``image``'s size (a
    read-only view, rows possibly padded), which is the grey of ``image``
    within rounding once ``luma_range`` is taken into account: ``"limited"``
    means video levels (16-235, most H.264), ``"full"`` 0-255 (JPEG-style).
    """

    __slots__ = (
        "_convert",
        "_image",
        "_lock",
        "_size_wh",
        "channel_order",
        "frame_id",
        "lores",
        "lores_order",
        "luma",
        "luma_range",
        "media_ms",
        "meta",
        "source",
        "timestamp_ns",
    )

    def __init__(
        self,
        image: np.ndarray | None,
        frame_id: int,
        timestamp_ns: int,
        source: SourceInfo,
        channel_order: ChannelOrder = "BGR",
        media_ms: float | None = None,
        lores: np.ndarray | None = None,
        lores_order: ChannelOrder = "RGB",
        meta: dict[str, object] | None = None,
        *,
        convert: Callable[[], np.ndarray] | None = None,
        size_wh: tuple[int, int] | None = None,
        luma: np.ndarray | None = None,
        luma_range: LumaRange = "full",
    ) -> None:
        """Give ``image``, or ``convert`` and ``size_wh`` (see the class docstring)."""
        if (image is None) == (convert is None):
            raise ValueError("Frame: give either image or convert, not both or neither")
        if convert is not None and size_wh is None:
            raise ValueError("Frame: convert needs size_wh (the image's width, height)")
        if luma is not None and luma.ndim != 2:
            raise ValueError(f"luma: expected an HxW plane, got shape {luma.shape}")
        self._image = image
        self._convert = convert
        self._lock = threading.Lock() if convert is not None else None
        self._size_wh = size_wh
        self.frame_id = frame_id
        self.timestamp_ns = timestamp_ns
        """Capture time on the monotonic clock (``time.monotonic_ns``)."""
        self.source = source
        self.channel_order: ChannelOrder = channel_order
        self.media_ms = media_ms
        """Position in a recorded file, in milliseconds."""
        self.lores = lores
        self.lores_order: ChannelOrder = lores_order
        self.meta: dict[str, object] = {} if meta is None else meta
        self.luma = luma
        self.luma_range: LumaRange = luma_range

    @property
    def image(self) -> np.ndarray:
        """The HxWx3 image, converted on first use for a frame built with ``convert``."""
        image = self._image
        if image is None:
            assert self._lock is not None
            with self._lock:  # two threads asking at once: one converts, both get it
                if self._image is None:
                    assert self._convert is not None
                    self._image = self._convert()
                    self._convert = None  # releases the decoded frame it held
                image = self._image
        return image

    @image.setter
    def image(self, image: np.ndarray) -> None:
        self._image, self._convert = image, None

    @property
    def image_ready(self) -> bool:
        """The image exists: given, or converted already (reading it costs nothing)."""
        return self._image is not None

    @property
    def size_wh(self) -> tuple[int, int]:
        """(width, height) of ``image``; never converts it."""
        if self._image is None:
            assert self._size_wh is not None
            return self._size_wh
        h, w = self._image.shape[:2]
        return (int(w), int(h))

    def __repr__(self) -> str:
        w, h = self.size_wh
        state = "" if self.image_ready else ", not converted"
        return (
            f"Frame(#{self.frame_id}, {w}x{h} {self.channel_order}{state}, "
            f"timestamp_ns={self.timestamp_ns}, media_ms={self.media_ms}, "
            f"source={self.source.name!r})"
        )
