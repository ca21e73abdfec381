"""Recorded video replay (mp4, mkv, avi, gif...).

Two modes. ``every-frame``: frames as fast as the pipeline takes them, no
drops: deterministic, for tests and offline processing. ``realtime``: paced
at the file's own frame rate and marked live, so a slow model drops frames
exactly as it would with a camera: a faithful camera simulator.

Files are decoded with PyAV where it opens them (everything FFmpeg reads:
all the fixtures), and frames are handed out undecoded to BGR: each carries
its Y plane for the motion gate (``Frame.luma``) and is converted to BGR,
with OpenCV's exact pixels, only when inference or a sink reads its
``image`` (:mod:`.av_frames`). On a still scene with motion gating and no
sink that wants pixels, that conversion (about half of a 720p file's decode
cost) never happens. A file PyAV cannot open or decode goes through
``cv2.VideoCapture`` instead (BGR at once), whose FFmpeg messages make the
error when neither can (:mod:`.video_readers`).

Frames are converted into pooled buffers (no 6 MB allocation per 1080p
frame) and decoded on the reading thread (``decode_threads=1``): FFmpeg's
own decode threads would compete with inference for the cores, and frame
threading only adds latency when inference, not decoding, is the bottleneck
(JSONL-only bench: pipeline/bare 0.92 with FFmpeg's threads, 0.99 with one).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np

from camera_app.buffers import BufferPool
from camera_app.errors import SourceError, SourceLostError
from camera_app.frames import Frame, SourceInfo
from camera_app.native import native_output
from camera_app.sources.av_frames import BgrOnDemand
from camera_app.sources.base import BaseSource
from camera_app.sources.images import looks_like_text
from camera_app.sources.video_readers import AvReader, OpenCVReader

log = logging.getLogger(__name__)

ReplayMode = Literal["every-frame", "realtime"]
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".gif", ".mjpeg", ".mjpg", ".h264", ".ts"}
)
EXPECTED_VIDEO = "expected a video file FFmpeg can decode: .mp4, .mkv, .avi, .mov, .webm, .gif..."

Reader = AvReader | OpenCVReader
Decoded = Any  # an av.VideoFrame (AvReader) or a BGR array (OpenCVReader)


class VideoFileSource(BaseSource):
    kind = "video"

    def __init__(
        self,
        path: str | Path,
        mode: ReplayMode = "every-frame",
        loop: bool = False,
        fps: float | None = None,
        decode_threads: int = 1,
    ) -> None:
        super().__init__(str(path))
        self.path = Path(path)
        self.mode = mode
        self.loop = loop
        self._fps_override = fps
        self.decode_threads = decode_threads
        """FFmpeg decoder threads; 0: FFmpeg's default (one per core)."""
        self._pool = BufferPool()
        self._bgr = BgrOnDemand(self._pool)
        self._reader: Reader | None = None
        self.decoder = ""
        """``"pyav"`` or ``"opencv"`` once started."""
        self._index = 0  # frame index within the file
        self._t0_ns = 0
        self._delivered = 0
        self._pending: Decoded | None = None
        # read() runs on the capture thread, stop() on the main thread:
        # closing a decoder inside read() aborts the process in FFmpeg.
        self._reader_lock = threading.Lock()
        self._text = False
        """The file starts like text (for the error when it cannot be opened)."""

    def _open(self) -> tuple[Reader, Decoded]:
        """Open the file and decode its first frame: PyAV, else OpenCV, whose
        complaints ("moov atom not found") go to the debug log and into the error."""
        try:
            reader = AvReader(self.path, self.decode_threads)
        except (av.error.FFmpegError, OSError, ValueError) as e:
            log.debug("video %s: PyAV cannot open it (%s); trying OpenCV", self.path, e)
        else:
            first = reader.next()
            if first is not None:
                return reader, first
            reader.close()
            log.debug("video %s: PyAV decoded no frame; trying OpenCV", self.path)
        with native_output(f"video {self.path}") as out:
            cv = OpenCVReader(self.path, self.decode_threads)
            image = cv.next() if cv.opened else None
        if not cv.opened:
            cv.close()
            why = ": it is text" if self._text else out.because()
            raise SourceError(f"video {self.path}: cannot be opened{why} ({EXPECTED_VIDEO})")
        if image is None:
            cv.close()
            raise SourceError(f"video {self.path}: no frame could be decoded{out.because()}")
        return cv, image

    def start(self) -> SourceInfo:
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}")
        if not self.path.is_file():
            raise SourceError(f"video path is not a file: {self.path}")
        try:
            with self.path.open("rb") as f:
                head = f.read(512)
        except OSError as e:
            raise SourceError(f"video {self.path}: cannot be read ({e.strerror or e})") from e
        if not head:
            raise SourceError(f"video {self.path}: the file is empty ({EXPECTED_VIDEO})")
        self._text = looks_like_text(head)
        reader, first = self._open()
        fps = self._fps_override or reader.fps
        if not 0.1 <= fps <= 1000:
            log.warning("video %s: frame rate %r unknown; assuming 30 fps", self.path, fps)
            fps = 30.0
        count = reader.frame_count(fps)
        w, h = _size_wh(first)
        self._reader, self._pending = reader, first
        self.decoder = reader.name
        self._info = SourceInfo(
            name=str(self.path),
            kind=self.kind,
            size_wh=(w, h),
            fps=fps,
            frame_count=count,
            live=self.mode == "realtime",
        )
        self._t0_ns = 0  # the clock starts at the first read, not while the model loads
        log.debug(
            "video %s: %dx%d, %.2f fps, %s frames, %s, %s%s",
            self.path,
            w,
            h,
            fps,
            count if count is not None else "?",
            self.decoder,
            self.mode,
            ", looping" if self.loop else "",
        )
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._reader is None:
            if self._stopping.is_set() or self._info is not None:
                return None  # stopped, or a failed reopen already raised
            raise RuntimeError(f"video {self.path}: read before start")
        fps = self.info.fps or 30.0
        if self.mode == "realtime":
            if not self._t0_ns:
                self._t0_ns = time.monotonic_ns()
            due_ns = self._t0_ns + int(self._delivered * 1e9 / fps)
            delay_s = (due_ns - time.monotonic_ns()) / 1e9
            if delay_s > 0 and self._stopping.wait(delay_s):
                return None
        with self._reader_lock:
            decoded = self._next_decoded() if self._reader is not None else None
        if decoded is None:
            return None
        frame_id, now_ns = self._take_id(), time.monotonic_ns()
        media_ms = self._index * 1000.0 / fps
        if isinstance(decoded, np.ndarray):
            frame = Frame(decoded, frame_id, now_ns, self.info, media_ms=media_ms)
        else:
            frame = self._bgr.frame(decoded, frame_id, now_ns, self.info, media_ms)
        self._index += 1
        self._delivered += 1
        return frame

    def _next_decoded(self) -> Decoded | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        reader = self._reader
        assert reader is not None
        if isinstance(reader, AvReader):
            decoded = reader.next()
        else:
            w, h = self.info.size_wh
            decoded = reader.next(self._pool.get((h, w, 3)))
        if decoded is not None:
            return decoded
        if not self.loop or self._stopping.is_set():
            return None
        reader.close()
        self._reader = None
        try:
            self._reader, decoded = self._open()
        except SourceError as e:
            raise SourceLostError(f"{e} (reopening it to loop)") from e
        self._index = 0
        log.debug("video %s: looped", self.path)
        return decoded

    def stop(self) -> None:
        super().stop()  # first: a read in progress will not reopen to loop
        with self._reader_lock:
            reader, self._reader = self._reader, None
            self._pending = None
        if reader is not None:
            reader.close()
        self._bgr.clear()


def _size_wh(decoded: Decoded) -> tuple[int, int]:
    if isinstance(decoded, np.ndarray):
        h, w = decoded.shape[:2]
        return (int(w), int(h))
    return (int(decoded.width), int(decoded.height))
