"""Recorded video replay through OpenCV (mp4, mkv, avi, gif...).

Two modes. ``every-frame``: frames as fast as the pipeline takes them, no
drops: deterministic, for tests and offline processing. ``realtime``: paced
at the file's own frame rate and marked live, so a slow model drops frames
exactly as it would with a camera: a faithful camera simulator.

Frames are decoded into pooled buffers (no 6 MB allocation per 1080p frame)
and on the reading thread (``decode_threads=1``): FFmpeg's own decode threads
would compete with inference for the cores, and frame threading only adds
latency when inference, not decoding, is the bottleneck (JSONL-only bench:
pipeline/bare 0.92 with FFmpeg's threads, 0.99 with one).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from camera_app.buffers import BufferPool
from camera_app.errors import SourceError, SourceLostError
from camera_app.frames import Frame, SourceInfo
from camera_app.native import native_output
from camera_app.sources.base import BaseSource
from camera_app.sources.images import looks_like_text

log = logging.getLogger(__name__)

ReplayMode = Literal["every-frame", "realtime"]
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".gif", ".mjpeg", ".mjpg", ".h264", ".ts"}
)
EXPECTED_VIDEO = "expected a video file FFmpeg can decode: .mp4, .mkv, .avi, .mov, .webm, .gif..."


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
        self._cap: cv2.VideoCapture | None = None
        self._index = 0  # frame index within the file
        self._t0_ns = 0
        self._delivered = 0
        self._pending: np.ndarray | None = None
        # read() runs on the capture thread, stop() on the main thread:
        # releasing a VideoCapture inside read() aborts the process in FFmpeg.
        self._cap_lock = threading.Lock()
        self._text = False
        """The file starts like text (for the error when it cannot be opened)."""

    def _open(self) -> tuple[cv2.VideoCapture, np.ndarray]:
        """Open the file and decode its first frame; FFmpeg's complaints
        ("moov atom not found") go to the debug log and into the error."""
        params = [cv2.CAP_PROP_N_THREADS, self.decode_threads] if self.decode_threads else []
        with native_output(f"video {self.path}") as out:
            cap = cv2.VideoCapture(str(self.path), cv2.CAP_ANY, params)
            opened = cap.isOpened()
            ok, first = cap.read() if opened else (False, None)
        if not opened:
            cap.release()
            why = ": it is text" if self._text else out.because()
            raise SourceError(f"video {self.path}: cannot be opened{why} ({EXPECTED_VIDEO})")
        if not ok or first is None:
            cap.release()
            raise SourceError(f"video {self.path}: no frame could be decoded{out.because()}")
        return cap, first

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
        cap, first = self._open()
        fps = self._fps_override or cap.get(cv2.CAP_PROP_FPS) or 0.0
        if not 0.1 <= fps <= 1000:
            log.warning("video %s: frame rate %r unknown; assuming 30 fps", self.path, fps)
            fps = 30.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        h, w = first.shape[:2]
        self._cap, self._pending = cap, first
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
            "video %s: %dx%d, %.2f fps, %s frames, %s%s",
            self.path,
            w,
            h,
            fps,
            count if count is not None else "?",
            self.mode,
            ", looping" if self.loop else "",
        )
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._cap is None:
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
        with self._cap_lock:
            image = self._next_image() if self._cap is not None else None
        if image is None:
            return None
        frame = Frame(
            image=image,
            frame_id=self._take_id(),
            timestamp_ns=time.monotonic_ns(),
            source=self.info,
            media_ms=self._index * 1000.0 / fps,
        )
        self._index += 1
        self._delivered += 1
        return frame

    def _next_image(self) -> np.ndarray | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        assert self._cap is not None
        h, w = self.info.size_wh[1], self.info.size_wh[0]
        with native_output(f"video {self.path}"):  # FFmpeg's decode warnings
            ok, image = self._cap.read(self._pool.get((h, w, 3)))
        if ok and image is not None:
            return image
        if not self.loop or self._stopping.is_set():
            return None
        self._cap.release()
        self._cap = None
        try:
            self._cap, image = self._open()
        except SourceError as e:
            raise SourceLostError(f"{e} (reopening it to loop)") from e
        self._index = 0
        log.debug("video %s: looped", self.path)
        return image

    def stop(self) -> None:
        super().stop()  # first: a read in progress will not reopen to loop
        with self._cap_lock:
            cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
        self._pool.clear()
