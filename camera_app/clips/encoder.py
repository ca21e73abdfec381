"""The software path: frames encoded into packets, continuously, for pre-roll.

Without a source that already has encoded video (the Pi camera's hardware
encoder, a network camera's stream), the clips sink encodes the clean
frames it receives (never the annotated ones: the events carry the boxes)
into H.264 packets as they come, so the pre-roll buffer holds packets, not
frames. It runs all the time, so it is kept cheap: frames wider than
``max_width`` are scaled down first, libx264 ``ultrafast``/``zerolatency``
(one packet out per frame in, no delay) at a modest quality, or the Pi 4's
hardware encoder (``h264_v4l2m2m``) when ``codec = "h264"`` and it opens.
A key frame is forced every ``keyframe_interval_s`` of frame time, so a
clip can start within half that of the time asked for, and every key frame
carries SPS/PPS (``repeat-headers``), so any of them can start a file.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import av.error
import cv2
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType

from camera_app.clips.packets import EncodedPacket, StreamInfo
from camera_app.recording.encoder import (
    EncoderOptions,
    _configure,
    choose_codec,
    even_size,
)

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)


def scaled_size(size_wh: tuple[int, int], max_width: int) -> tuple[int, int]:
    """``size_wh`` scaled down to at most ``max_width`` wide, even sides."""
    w, h = size_wh
    if w > max_width:
        w, h = max_width, round(h * max_width / w)
    return even_size((max(w, 2), max(h, 2)))


class FrameEncoder:
    """BGR/RGB frames in, :class:`EncodedPacket` out (H.264, Annex B).

    ``encode`` raises ``ValueError`` when the frame size changed (the caller
    starts a new encoder: a stream cannot change size) and
    ``av.error.FFmpegError`` when the encoder fails.
    """

    def __init__(
        self,
        source_wh: tuple[int, int],
        *,
        max_width: int = 1280,
        options: EncoderOptions | None = None,
    ) -> None:
        self.options = o = options or EncoderOptions(crf=28)
        self.source_wh = source_wh
        self.size_wh = scaled_size(source_wh, max_width)
        self.codec = choose_codec(".mp4", self.size_wh, o)
        ctx = av.CodecContext.create(self.codec, "w")
        assert isinstance(ctx, VideoCodecContext)
        _configure(ctx, self.codec, self.size_wh, o)
        if self.codec == "libx264":
            ctx.options = {**ctx.options, "x264-params": "repeat-headers=1"}
        ctx.open()
        self._ctx = ctx
        self.stream = StreamInfo("h264", self.size_wh)
        w, h = self.size_wh
        self._yuv = np.empty((h * 3 // 2, w), np.uint8)
        self._t0_ns: int | None = None
        self._last_pts = -1
        self._next_key_ns: int | None = None
        self._key_interval_ns = round(o.keyframe_interval_s * 1e9)
        self._times: dict[int, int] = {}
        self.frames_in = 0
        detail = f" {o.preset} crf {o.crf}" if self.codec == "libx264" else ""
        log.info("clips: encoding %s%s at %dx%d for pre-roll", self.codec, detail, w, h)

    def encode(
        self, image: np.ndarray, timestamp_ns: int, channel_order: str = "BGR"
    ) -> list[EncodedPacket]:
        h, w = image.shape[:2]
        if (int(w), int(h)) != self.source_wh:
            raise ValueError(f"frame size changed from {self.source_wh} to {(w, h)}")
        sw, sh = self.size_wh
        if (w, h) != (sw, sh):
            image = cv2.resize(image, (sw, sh))  # bilinear: 1.5 ms at 1080p, INTER_AREA 6.8
        code = cv2.COLOR_RGB2YUV_I420 if channel_order == "RGB" else cv2.COLOR_BGR2YUV_I420
        cv2.cvtColor(image, code, dst=self._yuv)
        frame = av.VideoFrame.from_numpy_buffer(self._yuv, format="yuv420p")
        if self._t0_ns is None:
            self._t0_ns = timestamp_ns
        pts = max(round((timestamp_ns - self._t0_ns) * 90000 / 1e9), self._last_pts + 1)
        self._last_pts = pts
        self._times[pts] = timestamp_ns
        frame.pts = pts
        frame.time_base = TIME_BASE
        if self._next_key_ns is None or timestamp_ns >= self._next_key_ns:
            frame.pict_type = PictureType.I
            self._next_key_ns = timestamp_ns + self._key_interval_ns
        self.frames_in += 1
        return self._packets(self._ctx.encode(frame))

    def flush(self) -> list[EncodedPacket]:
        """The packets still inside the encoder (none with zerolatency)."""
        try:
            return self._packets(self._ctx.encode(None))
        except (av.error.FFmpegError, ValueError) as e:
            log.debug("clips: flushing the encoder: %s", e)
            return []

    def _packets(self, packets: list[av.Packet]) -> list[EncodedPacket]:
        out = []
        for p in packets:
            pts = p.pts if p.pts is not None else p.dts
            if pts is None:
                continue
            ns = self._times.pop(pts, None)
            if ns is None:
                assert self._t0_ns is not None
                ns = self._t0_ns + round(pts * 1e9 / 90000)
            out.append(EncodedPacket(bytes(p), ns, bool(p.is_keyframe), self.stream))
        if len(self._times) > 256:  # frames the encoder dropped: forget them
            for old in sorted(self._times)[:-64]:
                del self._times[old]
        return out
