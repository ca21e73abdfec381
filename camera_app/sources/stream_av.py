"""Network cameras through PyAV: one connection; packets copied for clips, frames decoded once.

An RTSP or HTTP camera that sends H.264 or H.265 already did the encoding.
This source opens the stream once with PyAV (RTSP over TCP; ``analyzeduration=0``
and ``probesize=32``: the SDP names the codec, and FFmpeg would otherwise
buffer seconds of video first) and, for every packet, in one thread:

1. times it on the capture clock (:mod:`.stream_timing`: presentation and
   decode times; the first packets are held until B-frames' depth is known);
2. decodes it, once: the newest frame is kept for ``read()``, its
   ``timestamp_ns`` the packet's presentation time; the frame read carries
   the Y plane and is converted to BGR only when something reads its image
   (:mod:`.av_frames`);
3. publishes it on the run's :class:`~camera_app.clips.packets.PacketBus`
   as it came (the bytes the camera sent, Annex B), from a key frame on.

Each connection announces its stream on the bus at its first key frame and
withdraws it when it ends (``stop()``, a lost stream): a clip in progress
ends cleanly and the next starts on the next connection's first key frame
(:class:`~camera_app.sources.reconnect.ReconnectingSource` reconnects). A
stream of another codec (MJPEG over HTTP, MPEG-4) goes to
:class:`~camera_app.sources.opencv_live.OpenCVLiveSource`, as before. A read
that gets nothing for ``read_timeout_s`` fails the stream (PyAV's interrupt
timeout), which also bounds how long the thread outlives ``stop()``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import av

from camera_app.clips.packets import EncodedPacket, PacketBus, StreamInfo
from camera_app.errors import SourceError, SourceLostError, SourceUnavailableError
from camera_app.frames import Frame, SourceInfo
from camera_app.sources.av_frames import BgrOnDemand
from camera_app.sources.base import BaseSource
from camera_app.sources.opencv_live import EXPECTED_STREAM, OpenCVLiveSource
from camera_app.sources.stream_timing import PacketTimer, ReorderError, Timed

log = logging.getLogger(__name__)

COPIED_CODECS = ("h264", "hevc")
_serial = itertools.count(1)


def redacted(url: str) -> str:
    """The URL without user and password, for logs and the bus's producer name."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def open_options(url: str) -> dict[str, str]:
    if url.lower().startswith(("rtsp://", "rtsps://")):
        return {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
    return {"analyzeduration": "1000000", "probesize": "1000000"}


def _reason(e: BaseException) -> str:
    if isinstance(e, av.error.ExitError):
        return "no answer in time"
    return str(getattr(e, "strerror", None) or e)


class AvStreamSource(BaseSource):
    """``rtsp://`` / ``http(s)://`` camera; see the module docstring."""

    kind = "stream"

    def __init__(
        self,
        spec: str,
        packets: PacketBus | None = None,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        size_wh: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> None:
        super().__init__(spec)
        self.bus = packets
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.size_wh, self.fps = size_wh, fps  # for the OpenCV fallback
        self.fallback: OpenCVLiveSource | None = None
        """Set when the stream's codec is not copied: that source does the work."""
        self.packets_published = self.packets_decoded = self.frames_decoded = 0
        self.decode_errors = 0
        self._container: Any = None
        self._stream: Any = None
        self._demux: Iterator[Any] | None = None
        self._timer: PacketTimer[Any] | None = None
        self._keyed = False
        self._pts_ns: dict[int, int] = {}  # stream pts -> capture ns, until its frame is decoded
        self._last_frame_ns = 0
        self._publish_lock = threading.Lock()
        self._closed = False
        self._producer: str | None = None
        self._stream_info: StreamInfo | None = None
        self._cond = threading.Condition()
        self._latest: Any = None  # av.VideoFrame
        self._latest_ns = self._seq = self._returned_seq = 0
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._bgr = BgrOnDemand()

    # -- opening --------------------------------------------------------------
    def start(self) -> SourceInfo:
        self._stopping.clear()
        with self._cond:
            self._seq = self._returned_seq = 0
            self._error, self._latest = None, None
        self._closed, self._keyed = False, False
        try:
            container = av.open(
                self.name,
                options=open_options(self.name),
                timeout=(self.open_timeout_s, self.read_timeout_s),
            )
        except (av.error.FFmpegError, OSError) as e:
            raise SourceUnavailableError(
                f"{self}: cannot be opened: {_reason(e)} ({EXPECTED_STREAM})"
            ) from e
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self}: has no video ({EXPECTED_STREAM})")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in COPIED_CODECS:
            container.close()
            log.info("%s: %s video goes through OpenCV (only H.264/H.265 are copied)", self, codec)
            self.fallback = OpenCVLiveSource(
                self.name, self.size_wh, self.fps, open_timeout_s=self.open_timeout_s
            )
            self._info = self.fallback.start()
            return self._info
        self._container, self._stream = container, stream
        self._demux = container.demux(stream)
        self._timer = PacketTimer(stream.time_base or Fraction(1, 90000))
        try:
            self._first_frame()
        except BaseException:
            self._close()
            raise
        timer = self._timer
        fps = float(stream.average_rate or 0) or (
            1 / float(timer.frame_ticks * timer.time_base) if timer.frame_ticks else None
        )
        h, w = self._latest.height, self._latest.width
        self._info = SourceInfo(self.name, self.kind, (w, h), fps=fps, live=True)
        self._thread = threading.Thread(target=self._run, name=f"demux:{self}", daemon=True)
        self._thread.start()
        log.debug("%s: %s %dx%d, %s fps, one connection", self, codec, w, h, fps)
        return self._info

    def _first_frame(self) -> None:
        deadline = time.monotonic() + self.open_timeout_s
        while self._seq == 0:
            if not self._step():
                raise SourceUnavailableError(
                    f"{self}: opened but delivered no frame: {self._error}"
                )
            if time.monotonic() > deadline:
                raise SourceUnavailableError(
                    f"{self}: opened but delivered no frame within {self.open_timeout_s:g} s"
                )

    def __str__(self) -> str:
        return f"stream {redacted(self.name)}"

    # -- the demux thread -----------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set() and self._step():
                pass
        except Exception as e:  # a bug here must end the stream, not hang the reader
            log.exception("%s: the demux thread failed", self)
            self._fail(f"the demux thread failed: {e}")
        finally:
            self._close()

    def _step(self) -> bool:
        """Demux one packet: time, decode and publish it. False once the stream ended."""
        assert self._demux is not None and self._timer is not None
        try:
            packet = next(self._demux)
        except StopIteration:
            packet = None
        except (av.error.FFmpegError, OSError) as e:
            self._fail(f"the stream failed: {_reason(e)}")
            return False
        if packet is None or packet.size == 0:  # demux's flush packet: the end
            self._fail("the stream ended")
            return False
        if not self._keyed:  # the copy (re)starts on a key frame
            if not packet.is_keyframe:
                if self._last_frame_ns:  # after a timing restart: inference goes on
                    self._decode(packet)
                return True  # before the first key frame nothing decodes
            self._keyed = True
        try:
            timed = self._timer.push(packet, packet.pts, time.monotonic_ns())
        except ReorderError as e:
            self._restart_timing(str(e))
            self._decode(packet)  # the decoder needs every packet
            return True
        for t in timed:
            if t.pts != packet.pts:
                t.item.pts = t.pts  # filled in: the decoded frame carries it
            self._pts_ns[t.pts] = t.pts_ns
            if len(self._pts_ns) > 256:  # frames that never came out (decode errors)
                del self._pts_ns[next(iter(self._pts_ns))]
            self._decode(t.item)
            self._publish(t)
        return True

    def _decode(self, packet: Any) -> None:
        try:
            frames = self._stream.codec_context.decode(packet)
        except av.error.FFmpegError as e:
            self.decode_errors += 1
            log.debug("%s: a packet did not decode: %s", self, e)
            return
        self.packets_decoded += 1
        for frame in frames:
            self.frames_decoded += 1
            ts = self._pts_ns.pop(frame.pts, None) if frame.pts is not None else None
            ts = max(ts or time.monotonic_ns(), self._last_frame_ns + 1)
            self._last_frame_ns = ts
            with self._cond:
                self._latest, self._latest_ns = frame, ts
                self._seq += 1
                self._cond.notify_all()

    def _publish(self, t: Timed[Any]) -> None:
        if self.bus is None:
            return
        packet = t.item
        with self._publish_lock:
            if self._closed:
                return
            if self._producer is None:
                if not packet.is_keyframe:
                    return  # a clip starts on a key frame
                self._announce()
            assert self._stream_info is not None and self._producer is not None
            self.bus.publish(
                EncodedPacket(
                    bytes(packet), t.pts_ns, packet.is_keyframe, self._stream_info, dts_ns=t.dts_ns
                )
            )
            self.packets_published += 1

    def _announce(self) -> None:
        assert self.bus is not None
        cc = self._stream.codec_context
        size = (cc.width or self._stream.width, cc.height or self._stream.height)
        extradata = cc.extradata
        self._stream_info = StreamInfo(cc.name, size, bytes(extradata) if extradata else None)
        self._producer = f"{self} ({cc.name} copy) #{next(_serial)}"
        self.bus.announce(self._producer, self._stream_info)

    def _withdraw(self) -> None:
        """Under the publish lock."""
        if self._producer is not None and self.bus is not None:
            self.bus.withdraw(self._producer)
        self._producer = None

    def _restart_timing(self, why: str) -> None:
        assert self._timer is not None
        depth = (self._timer.depth or 0) + 1
        log.warning("%s: %s; starting the copy over at the next key frame", self, why)
        with self._publish_lock:
            self._withdraw()
        self._timer = PacketTimer(self._timer.time_base, min_depth=depth)
        self._keyed = False

    def _fail(self, reason: str) -> None:
        with self._cond:
            if self._error is None:
                self._error = reason
            self._cond.notify_all()

    def _close(self) -> None:
        with self._publish_lock:
            self._closed = True
            self._withdraw()
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (av.error.FFmpegError, OSError) as e:
                log.debug("%s: closing: %s", self, e)

    # -- Source protocol ------------------------------------------------------
    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self.fallback is not None:
            return self.fallback.read(timeout_s)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._seq == self._returned_seq:
                if self._stopping.is_set():
                    return None
                if self._error is not None:
                    raise SourceLostError(f"{self}: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceLostError(f"{self}: no frame within {timeout_s:g} s")
                self._cond.wait(min(left, 0.5))
            if self._stopping.is_set():
                return None
            frame, ts = self._latest, self._latest_ns
            self._returned_seq = self._seq
        return self._bgr.frame(frame, self._take_id(), ts, self.info)

    def stop(self) -> None:
        super().stop()
        if self.fallback is not None:
            self.fallback.stop()
            return
        with self._publish_lock:  # nothing is published after stop() returns
            self._closed = True
            self._withdraw()
        with self._cond:
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is None:
            self._close()
        elif thread is not threading.current_thread():
            thread.join(timeout=2.0)
            if thread.is_alive():
                log.warning(
                    "%s: demux thread still blocked in a read; it ends on its timeout", self
                )
