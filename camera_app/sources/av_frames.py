"""Decoded PyAV frames as :class:`~camera_app.frames.Frame`: grey now, BGR on demand.

A decoder hands out YUV; the pipeline wants BGR (the model, drawing,
encoding) but the motion gate only wants grey, which is the decoded Y plane
as it is. :class:`BgrOnDemand` builds frames that carry the Y plane
(``Frame.luma``, a read-only view, no copy) and convert to BGR only when
something reads ``Frame.image``: on a still scene with motion gating, most
frames are never converted (about half of a 720p file's decode cost).

The conversion is FFmpeg's swscale (``VideoReformatter``), the one
``cv2.VideoCapture`` uses, with the frame's own colour tags (BT.601/709,
video or full range), so the pixels are exactly OpenCV's (checked on the
fixtures; ``cv2.COLOR_YUV2BGR_I420`` is cheaper but differs by 1 on most
pixels). swscale writes into a fresh FFmpeg buffer, which is copied into a
pooled array right away and released (see :mod:`camera_app.buffers`).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from camera_app.buffers import BufferPool
from camera_app.frames import Frame, LumaRange, SourceInfo

LUMA_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
        "yuv411p", "yuvj411p", "yuv440p", "yuvj440p", "nv12", "nv21", "nv16", "gray",
    }
)  # fmt: skip
"""8-bit pixel formats whose first plane is the luma (Y) plane."""
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def plane_view(plane: Any, width: int, channels: int = 1) -> np.ndarray:
    """A numpy view of a PyAV plane (HxW or HxWxC), padding excluded; it
    keeps the plane (and so the decoded frame) alive."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    view = rows[:, : width * channels]
    return view if channels == 1 else view.reshape(plane.height, width, channels)


def luma_of(frame: Any) -> tuple[np.ndarray | None, LumaRange]:
    """The decoded frame's Y plane (read-only view) and its levels; None for
    RGB/palette formats (a GIF)."""
    name = frame.format.name
    if name not in LUMA_FORMATS:
        return None, "full"
    y = plane_view(frame.planes[0], frame.width)
    y.flags.writeable = False  # the decoder's buffer, shared with its references
    full = name.startswith("yuvj") or name == "gray" or frame.color_range == _FULL_RANGE
    return y, "full" if full else "limited"


class BgrOnDemand:
    """Turns decoded ``av.VideoFrame`` objects into frames whose BGR image
    is converted on first use, into this object's pooled buffers.

    Thread-safe: the conversion runs on whichever thread reads the image
    first (inference, a sink); the swscale context is shared, so one at a time.
    """

    def __init__(self, pool: BufferPool | None = None) -> None:
        self.pool = pool or BufferPool()
        self._reformatter = VideoReformatter()
        self._lock = threading.Lock()
        self.conversions = 0
        """Frames converted so far (a still scene's gated frames are not)."""

    def bgr(self, frame: Any) -> np.ndarray:
        """``frame`` as an HxWx3 BGR array of the pool (contiguous)."""
        w, h = frame.width, frame.height
        out = self.pool.get((h, w, 3))
        with self._lock:
            converted = self._reformatter.reformat(
                frame, format="bgr24", interpolation=Interpolation.BICUBIC, threads=1
            )
            np.copyto(out, plane_view(converted.planes[0], w, 3))
            self.conversions += 1
        return out

    def frame(
        self,
        decoded: Any,
        frame_id: int,
        timestamp_ns: int,
        source: SourceInfo,
        media_ms: float | None = None,
    ) -> Frame:
        """A :class:`Frame` of ``decoded``: luma now, BGR when read."""
        luma, luma_range = luma_of(decoded)
        return Frame(
            None,
            frame_id,
            timestamp_ns,
            source,
            media_ms=media_ms,
            convert=lambda: self.bgr(decoded),
            size_wh=(decoded.width, decoded.height),
            luma=luma,
            luma_range=luma_range,
        )

    def clear(self) -> None:
        self.pool.clear()
