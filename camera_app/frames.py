"""Frame: the pixels a source captured plus when and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ChannelOrder = Literal["RGB", "BGR"]


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


@dataclass(slots=True)
class Frame:
    """One captured frame.

    ``image`` is HxWx3 uint8 in ``channel_order`` (BGR for everything read
    through OpenCV, so sinks can draw and encode it directly). A source may
    add ``lores``: a smaller image of the same field of view (picamera2's
    lores stream) that inference uses instead; results are still reported
    in ``image`` pixels.
    """

    image: np.ndarray
    frame_id: int
    timestamp_ns: int
    """Capture time on the monotonic clock (``time.monotonic_ns``)."""
    source: SourceInfo
    channel_order: ChannelOrder = "BGR"
    media_ms: float | None = None
    """Position in a recorded file, in milliseconds."""
    lores: np.ndarray | None = None
    lores_order: ChannelOrder = "RGB"
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def size_wh(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return (int(w), int(h))
