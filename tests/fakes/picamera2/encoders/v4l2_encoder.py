"""Fake of ``picamera2.encoders.v4l2_encoder``: the Pi 4's hardware codec behind V4L2.

The real ``V4L2Encoder`` (picamera2 0.3.36) opens ``/dev/video11``
(bcm2835-codec) in ``_start``, queues each request's dma-buf to the codec in
``_encode`` (``request.acquire()``, one of 16 input buffers taken from
``buf_available`` - a blocking ``get`` when all are in use - and the request
kept in ``buf_frame``) and runs ``thread_poll``: a thread that gives the
input buffer back and releases the request once the codec has read it, and
passes each encoded buffer whose bytes hold a picture
(``_check_for_picture``) to ``outputframe(bytes, keyframe, timestamp_us)``
with the timestamp the frame was queued with. ``_stop`` joins that thread,
which first drains what is queued (and gives up 400 ms after the last
event). The codec writes Annex B with SPS/PPS before every key frame when
``V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER`` is set (``repeat=True``), only
before the first one otherwise; no B-frames; a key frame every ``iperiod``
frames (the firmware default is 60).

The fake keeps that structure (the same queues, the same threading, the same
release points) and stands in for the silicon with libx264 through PyAV
(preset ultrafast, tune zerolatency, one thread: one packet out per frame in,
no reordering), which produces real H.264 a muxer and a decoder accept.
``FAKE.encoder_error`` makes ``_start`` fail as opening a busy or missing
``/dev/video11`` does (``OSError``).
"""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from typing import Any

import av

from ..fake import FAKE
from ..request import MappedArray
from .encoder import Encoder

NUM_OUTPUT_BUFFERS = 16
_AV_FORMATS = {
    "RGB888": "bgr24",
    "BGR888": "rgb24",
    "XBGR8888": "rgba",
    "XRGB8888": "bgra",
    "YUV420": "yuv420p",
}


class V4L2Encoder(Encoder):
    def __init__(self, bitrate: int | None, pixformat: str) -> None:
        super().__init__()
        self.bitrate = bitrate
        self._pixformat = pixformat
        self._controls: list[tuple[str, int]] = []
        self.vd: Any = None
        self.framerate: float | None = None
        self._enable_framerate = False
        self._key_frames_requested = 0
        self._key_frames_generated = 0
        self.iperiod: int | None = None
        self.repeat = True

    def _start(self) -> None:
        if FAKE.encoder_error is not None:
            raise OSError(FAKE.encoder_error)
        if self._format not in _AV_FORMATS:
            raise RuntimeError("Unrecognised format", self._format, "for V4L2")
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = self._width, self._height, "yuv420p"
        codec.time_base = Fraction(1, 1000000)
        codec.framerate = Fraction(self.framerate or 30).limit_denominator(
            1001
        )  # x264's rate control
        codec.gop_size = self.iperiod or 60
        codec.thread_count = 1
        if self.bitrate:
            codec.bit_rate = self.bitrate
        codec.options = {"preset": "ultrafast", "tune": "zerolatency"}
        if not self.repeat:
            codec.flags |= av.codec.context.Flags.GLOBAL_HEADER
        codec.open()
        self.vd = codec
        self._headers_sent = False
        self.buf_available: queue.Queue[int] = queue.Queue()
        self.buf_frame: queue.Queue[tuple[Any, int, int, bool]] = queue.Queue()
        for i in range(NUM_OUTPUT_BUFFERS):
            self.buf_available.put(i)
        self.thread = threading.Thread(target=self.thread_poll, name="fake-v4l2-encoder")
        self.thread.daemon = True
        self.thread.start()

    def _stop(self) -> None:
        self.thread.join()
        self.vd = None

    def _check_for_picture(self, buf: bytes) -> bool:
        if len(buf) > 64:
            return True
        start_code = b"\x00\x00\x00\x01"
        pos = 0
        while (pos := buf.find(start_code, pos)) != -1:
            pos += 4
            if pos < len(buf) and buf[pos] & 15 in (5, 1):
                return True
        return False

    def thread_poll(self) -> None:
        while self._running or self.buf_frame.qsize() > 0:
            try:
                request, index, timestamp_us, force_key = self.buf_frame.get(timeout=0.4)
            except queue.Empty:
                if not self._running:
                    break
                continue
            try:
                packets = self._hardware_encode(request, timestamp_us, force_key)
            finally:
                self.buf_available.put(index)
                request.release()  # the codec has read the input buffer
            for packet in packets:
                b = bytes(packet)
                if not self.repeat and not self._headers_sent and packet.is_keyframe:
                    b = bytes(self.vd.extradata or b"") + b  # headers once, with the first frame
                    self._headers_sent = True
                if self._check_for_picture(b):
                    self.outputframe(b, packet.is_keyframe, timestamp_us)

    def _hardware_encode(self, request: Any, timestamp_us: int, force_key: bool) -> list[Any]:
        fmt = _AV_FORMATS[self._format or ""]
        with MappedArray(request, self._name or "main") as m:
            frame = av.VideoFrame.from_numpy_buffer(m.array, format=fmt, width=self._width)
            frame = frame.reformat(format="yuv420p")  # the codec's own conversion
        frame.pts = timestamp_us
        frame.time_base = Fraction(1, 1000000)
        if force_key:
            frame.pict_type = av.video.frame.PictureType.I
        return list(self.vd.encode(frame))

    def _encode(self, stream: Any, request: Any) -> None:
        if self._output is None:
            return
        if self.vd is None:
            return
        force_key = self._key_frames_requested > self._key_frames_generated
        if force_key:
            self._key_frames_generated += 1
        request.acquire()
        timestamp_us = self._timestamp(request)
        index = self.buf_available.get()
        self.buf_frame.put((request, index, timestamp_us, force_key))
