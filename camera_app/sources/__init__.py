"""Capture sources, one file each, all behind :class:`~camera_app.sources.base.Source`.

:func:`open_source` turns a source string into a source:

* ``picamera2`` or ``picamera2:N`` - a Raspberry Pi camera (libcamera);
* ``/dev/videoN`` or ``N`` - a V4L2/USB camera;
* ``rtsp://...``, ``http(s)://...`` - a network stream (H.264/H.265 through
  PyAV, its packets copied for clips; other codecs through OpenCV);
* a video file - replayed in ``every-frame`` or ``realtime`` mode;
* a folder, a glob or a single image file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from camera_app.clips.packets import PacketBus
from camera_app.errors import SourceError
from camera_app.sources.base import BaseSource, Source
from camera_app.sources.images import IMAGE_SUFFIXES, ImageFolderSource, is_glob
from camera_app.sources.opencv_live import OpenCVLiveSource, device_index, is_stream_url
from camera_app.sources.video import VideoFileSource

__all__ = ["BaseSource", "Source", "SourceOptions", "open_source", "source_kind"]


@dataclass(frozen=True, slots=True)
class SourceOptions:
    mode: Literal["every-frame", "realtime"] | None = None
    """Replay mode for files; None: every-frame."""
    loop: bool = False
    size_wh: tuple[int, int] | None = None
    """Requested capture size for cameras (picamera2 main stream, V4L2)."""
    fps: float | None = None
    lores_size_wh: tuple[int, int] | None = None
    """picamera2: size of the lores stream inference reads (about the model's)."""
    timeout_s: float = 2.0
    packets: PacketBus | None = None
    """Where a source with encoded video (picamera2's hardware encoder, an
    H.264 network stream) publishes its packets for clips; None: nowhere."""


def source_kind(spec: str) -> str:
    """Classify a source string without opening it; raises on a bad string."""
    s = spec.strip()
    if not s:
        raise SourceError(
            "source is empty; expected picamera2[:N], /dev/videoN, a URL, a video or images"
        )
    if s == "picamera2" or s.startswith("picamera2:"):
        num = s.partition(":")[2]
        if num and not num.isdigit():
            raise SourceError(
                f"source {spec!r}: expected picamera2 or picamera2:N with N a camera number"
            )
        return "picamera2"
    if "://" in s:
        if not is_stream_url(s):
            raise SourceError(
                f"source {spec!r}: unsupported URL scheme; expected rtsp://, http(s)://, rtmp://, udp:// or tcp://"
            )
        return "stream"
    if device_index(s) is not None:
        return "v4l2"
    if is_glob(s) or Path(s).is_dir() or Path(s).suffix.lower() in IMAGE_SUFFIXES:
        return "images"
    return "video"


def open_source(spec: str, options: SourceOptions | None = None) -> Source:
    """Build (not start) the source a source string names."""
    opts = options or SourceOptions()
    kind = source_kind(spec)
    if kind == "picamera2":
        from camera_app.sources.picamera2 import Picamera2Source

        num = spec.partition(":")[2]
        return Picamera2Source(
            camera_num=int(num) if num else 0,
            main_size_wh=opts.size_wh or (1280, 720),
            lores_size_wh=opts.lores_size_wh,
            fps=opts.fps or 30.0,
            timeout_s=opts.timeout_s,
            packets=opts.packets,
        )
    if kind == "stream":
        try:
            from camera_app.sources.stream_av import AvStreamSource
        except ImportError:  # no PyAV: OpenCV decodes, nothing is copied for clips
            return OpenCVLiveSource(spec, size_wh=opts.size_wh, fps=opts.fps)
        return AvStreamSource(spec, opts.packets, size_wh=opts.size_wh, fps=opts.fps)
    if kind == "v4l2":
        return OpenCVLiveSource(spec, size_wh=opts.size_wh, fps=opts.fps)
    if kind == "images":
        return ImageFolderSource(spec, loop=opts.loop)
    return VideoFileSource(spec, mode=opts.mode or "every-frame", loop=opts.loop, fps=None)
