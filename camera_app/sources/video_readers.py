"""The two decoders behind :class:`~camera_app.sources.video.VideoFileSource`.

:class:`AvReader` (PyAV) is tried first: it hands out decoded YUV frames, so
the source can give the motion gate the Y plane and convert to BGR only the
frames something looks at (:mod:`.av_frames`). :class:`OpenCVReader`
(``cv2.VideoCapture``, BGR into pooled buffers) takes over for a file PyAV
cannot open or decode, and its FFmpeg messages make the one-line error when
neither can ("moov atom not found"). Both decode on the calling thread with
``decode_threads`` FFmpeg threads (0: FFmpeg's default, one per core).

Neither is thread-safe: the source serialises ``next()`` and ``close()``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from camera_app.native import native_output

log = logging.getLogger(__name__)

MAX_BAD_PACKETS = 100
"""Consecutive packets that fail to decode before the file counts as ended."""


class AvReader:
    """One pass over a file with PyAV; :meth:`next` gives ``av.VideoFrame`` objects."""

    name = "pyav"

    def __init__(self, path: Path, decode_threads: int) -> None:
        """Raises ``av.error.FFmpegError``/``OSError`` when PyAV cannot open
        it, ``ValueError`` when it has no video stream."""
        self.path = path
        container = av.open(str(path))
        if not container.streams.video:
            container.close()
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        cc = stream.codec_context
        cc.thread_count = decode_threads
        if decode_threads != 1:
            cc.thread_type = "AUTO"  # frame and slice threads, as OpenCV's
        self._container, self._stream = container, stream
        self._packets = container.demux(stream)
        self._ready: list[Any] = []
        self.decode_errors = 0

    @property
    def fps(self) -> float:
        """The stream's average frame rate (0.0 when unknown), as OpenCV reports it."""
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def frame_count(self, fps: float) -> int | None:
        """The container's count, else duration x ``fps`` (OpenCV's estimate)."""
        if self._stream.frames:
            return int(self._stream.frames)
        s = self._stream
        duration_s = (
            float(s.duration * s.time_base)
            if s.duration and s.time_base
            else (self._container.duration or 0) / av.time_base
        )
        return round(duration_s * fps) or None

    def next(self) -> Any | None:
        """The next decoded frame; None at the end of the file. Packets that
        do not decode are skipped (logged at debug), as OpenCV does."""
        bad = 0
        while not self._ready:
            try:
                packet = next(self._packets)
            except StopIteration:
                return None
            except (av.error.FFmpegError, OSError) as e:  # a truncated file: its end
                log.debug("video %s: reading stopped: %s", self.path, e)
                return None
            try:
                self._ready = list(packet.decode())  # the last (empty) packet flushes
            except av.error.FFmpegError as e:
                self.decode_errors += 1
                bad += 1
                log.debug("video %s: a packet did not decode: %s", self.path, e)
                if bad >= MAX_BAD_PACKETS:
                    return None
        return self._ready.pop(0)

    def close(self) -> None:
        self._ready.clear()
        try:
            self._container.close()
        except (av.error.FFmpegError, OSError) as e:
            log.debug("video %s: closing: %s", self.path, e)


class OpenCVReader:
    """One pass over a file with ``cv2.VideoCapture``; :meth:`next` gives BGR arrays."""

    name = "opencv"

    def __init__(self, path: Path, decode_threads: int) -> None:
        """Call inside ``native_output``; ``opened`` says whether it worked."""
        self.path = path
        params = [cv2.CAP_PROP_N_THREADS, decode_threads] if decode_threads else []
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, params)
        self.opened = self._cap.isOpened()

    @property
    def fps(self) -> float:
        return float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)

    def frame_count(self, fps: float) -> int | None:
        return int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    def next(self, buf: np.ndarray | None = None) -> np.ndarray | None:
        """The next frame, decoded into ``buf`` when given (a pooled HxWx3 array)."""
        with native_output(f"video {self.path}"):  # FFmpeg's decode warnings
            ok, image = self._cap.read(buf)
        return image if ok and image is not None else None

    def close(self) -> None:
        self._cap.release()
