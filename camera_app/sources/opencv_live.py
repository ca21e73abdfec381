"""Live sources through OpenCV: V4L2/USB cameras and network streams.

OpenCV's ``read()`` blocks (a V4L2 select or an FFmpeg network read) and
cameras buffer frames, which adds latency. A grabber thread therefore reads
continuously and keeps only the newest frame; ``read(timeout_s)`` waits for a
frame newer than the last one returned, and raises ``SourceLostError`` when
none came in time or the device failed. No frame is returned twice.

FFmpeg and OpenCV print their complaints ("Connection refused", "can't be
used to capture by name") straight to fd 2: opens and reads run inside
:func:`~camera_app.native.native_output`, so that text goes to the debug log
and an open's one-line error carries FFmpeg's reason.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from camera_app.errors import SourceError, SourceLostError, SourceUnavailableError
from camera_app.frames import Frame, SourceInfo
from camera_app.native import native_output
from camera_app.sources.base import BaseSource

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
_DEVICE = re.compile(r"^(?:/dev/video(\d+)|(\d+))$")
EXPECTED_STREAM = "expected a reachable rtsp://, http(s):// or rtmp:// video stream"


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_SCHEMES)


def device_index(spec: str) -> int | None:
    m = _DEVICE.match(spec)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


class OpenCVLiveSource(BaseSource):
    """``/dev/videoN``, a camera index ``N``, or an ``rtsp://``/``http://`` URL."""

    def __init__(
        self,
        spec: str,
        size_wh: tuple[int, int] | None = None,
        fps: float | None = None,
        open_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(spec)
        self.kind = "stream" if is_stream_url(spec) else "v4l2"
        self.size_wh = size_wh
        self.fps = fps
        self.open_timeout_s = open_timeout_s
        self._cap: cv2.VideoCapture | None = None
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = None
        self._latest_ns = 0
        self._seq = 0
        self._returned_seq = 0
        self._error: str | None = None
        self._ended = False
        self._thread: threading.Thread | None = None

    def _open_capture(self) -> tuple[cv2.VideoCapture, np.ndarray]:
        """Open the device or stream and read a first frame; ``SourceError`` if either fails."""
        spec = self.name
        if self.kind == "stream":
            ms = int(self.open_timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            with native_output(f"stream {spec}") as out:
                cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
                first = _first_frame(cap)
            if not cap.isOpened():
                cap.release()
                raise SourceUnavailableError(
                    f"stream {spec}: cannot be opened{out.because()} ({EXPECTED_STREAM})"
                )
            return self._checked(cap, first, out.because())
        idx = device_index(spec)
        if idx is None:
            raise SourceError(f"camera {spec!r}: expected /dev/videoN or a camera index")
        dev = Path(f"/dev/video{idx}")
        if not dev.exists():
            raise SourceUnavailableError(
                f"camera {dev}: no such device (expected a V4L2 camera; "
                "v4l2-ctl --list-devices lists them)"
            )
        if not os.access(dev, os.R_OK | os.W_OK):
            raise SourceError(
                f"camera {dev}: permission denied (add the user to the 'video' group)"
            )
        with native_output(f"camera {dev}") as out:
            cap = cv2.VideoCapture(idx, cv2.CAP_V4L2)
            if cap.isOpened():
                self._configure(cap)
            first = _first_frame(cap)
        if not cap.isOpened():
            cap.release()
            raise SourceUnavailableError(
                f"camera {dev}: cannot be opened{out.because()} (busy, or not a capture device)"
            )
        return self._checked(cap, first, out.because())

    def _configure(self, cap: cv2.VideoCapture) -> None:
        if self.size_wh:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size_wh[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size_wh[1])
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def _checked(
        self, cap: cv2.VideoCapture, first: np.ndarray | None, because: str
    ) -> tuple[cv2.VideoCapture, np.ndarray]:
        if first is None:
            cap.release()
            raise SourceUnavailableError(
                f"{self.kind} {self.name}: opened but delivered no frame{because}"
            )
        return cap, first

    def start(self) -> SourceInfo:
        self._stopping.clear()
        cap, first = self._open_capture()
        h, w = first.shape[:2]
        fps = cap.get(cv2.CAP_PROP_FPS) or None
        self._cap = cap
        self._info = SourceInfo(
            name=self.name,
            kind=self.kind,
            size_wh=(w, h),
            fps=fps if fps and 0 < fps < 1000 else None,
            live=True,
        )
        with self._cond:
            self._latest, self._latest_ns = first, time.monotonic_ns()
            self._seq, self._returned_seq = 1, 0
            self._error, self._ended = None, False
        self._thread = threading.Thread(
            target=self._grab_loop, name=f"grab:{self.name}", daemon=True
        )
        self._thread.start()
        log.debug("%s %s: %dx%d%s", self.kind, self.name, w, h, f", {fps:.1f} fps" if fps else "")
        return self._info

    def _grab_loop(self) -> None:
        cap = self._cap
        assert cap is not None
        while not self._stopping.is_set():
            because = ""
            try:
                with native_output(f"{self.kind} {self.name}") as out:
                    ok, image = cap.read()
                because = out.because()
            except cv2.error as e:  # pragma: no cover - backend specific
                ok, image = False, None
                log.debug("%s: read raised %s", self.name, e)
            with self._cond:
                if ok and image is not None:
                    self._latest, self._latest_ns = image, time.monotonic_ns()
                    self._seq += 1
                elif not self._stopping.is_set():
                    self._ended = True
                    self._error = f"stream ended or device stopped delivering frames{because}"
                self._cond.notify_all()
            if not ok:
                return

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            if self._stopping.is_set():
                return None
            while self._seq == self._returned_seq:
                if self._stopping.is_set():
                    return None
                if self._ended:
                    raise SourceLostError(f"{self.kind} {self.name}: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceLostError(
                        f"{self.kind} {self.name}: no frame within {timeout_s:g} s"
                    )
                self._cond.wait(min(left, 0.5))
            image, ts = self._latest, self._latest_ns
            self._returned_seq = self._seq
        assert image is not None
        return Frame(image, self._take_id(), ts, self.info)

    def stop(self) -> None:
        super().stop()
        with self._cond:
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
            if thread.is_alive():
                log.warning(
                    "%s: capture thread did not stop within 2 s (blocked in the driver)", self.name
                )
        cap, self._cap = self._cap, None
        if cap is not None and (thread is None or not thread.is_alive()):
            cap.release()


def _first_frame(cap: cv2.VideoCapture) -> np.ndarray | None:
    if not cap.isOpened():
        return None
    ok, first = cap.read()
    return first if ok and first is not None else None
