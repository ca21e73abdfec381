"""Encoding BGR frames to H.264 or Motion JPEG with PyAV.

Codecs, cheapest CPU per frame first (``benchmarks/encoders.py`` measures them):

* ``h264_v4l2m2m``: the Pi 4's hardware H.264 encoder, used for ``h264``
  when FFmpeg finds it and it opens at the frame size (not on a Pi 5 or a
  PC, where ``libx264`` takes over);
* ``mjpeg``: each frame compressed by libjpeg-turbo (``cv2.imencode``) and
  only muxed: the cheapest software option, at several times the file size;
* ``libx264``: preset ``ultrafast`` with ``tune=zerolatency`` by default
  (no frame delay, so a fragment is written as soon as its last frame is
  encoded); slower presets make smaller files for more CPU.

Frames are converted BGR -> I420 by OpenCV into one buffer reused for every
frame (half the cost of FFmpeg's own conversion at 1080p) and handed to
the encoder without a copy (libx264 and the V4L2 encoder copy the picture
when they take it). Timestamps are the frames' capture times: a recording
with drops plays at real speed. A key frame is forced every
``keyframe_interval_s`` of capture time (seeking, and the start of segments).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import cv2
import numpy as np
from av.video.frame import PictureType

from camera_app.recording.files import OutputFile
from camera_app.recording.mux import CODECS, Muxer, Timeline, container_for, stream_time_base

log = logging.getLogger(__name__)

H264_CODECS = ("h264_v4l2m2m", "libx264")
CODEC_CHOICES = ("auto", "h264", "mjpeg", *H264_CODECS)
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
BT601, LIMITED_RANGE = 6, 1  # AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG: what OpenCV's I420 is


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """How frames are encoded; :meth:`validate` before the first frame."""

    codec: str = "auto"
    """``auto`` (H.264 for .mp4/.mov/.m4v, Motion JPEG for .mkv/.avi),
    ``h264`` (hardware when it opens, else libx264), ``libx264``,
    ``h264_v4l2m2m`` or ``mjpeg``."""
    preset: str = "ultrafast"
    tune: str = "zerolatency"
    crf: int = 23
    """libx264 quality (0-51, lower is better and bigger)."""
    bitrate_bps: int | None = None
    """Hardware encoder bit rate; default about 0.07 bit per pixel per frame."""
    keyframe_interval_s: float = 1.0
    jpeg_quality: int = 80
    threads: int = 0
    """libx264 threads (0: FFmpeg's choice; with zerolatency, slices of one frame)."""
    fps: float = 30.0
    """Nominal frame rate: AVI's time unit and the encoders' rate-control hint."""

    def validate(self, suffix: str) -> None:
        """Raise ``ValueError`` naming the bad option."""
        container = container_for(suffix)
        if self.codec not in CODEC_CHOICES:
            raise ValueError(f"codec must be one of {', '.join(CODEC_CHOICES)}, got {self.codec!r}")
        family = self.family(suffix)
        if family not in CODECS[container]:
            raise ValueError(
                f"{suffix} files cannot hold {family}; use {' or '.join(CODECS[container])}"
            )
        if self.preset not in X264_PRESETS:
            raise ValueError(
                f"preset must be one of {', '.join(X264_PRESETS)}, got {self.preset!r}"
            )
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be 0..51, got {self.crf}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"JPEG quality must be 1..100, got {self.jpeg_quality}")
        if not 0.1 <= self.keyframe_interval_s <= 60:
            raise ValueError(
                f"key frame interval must be 0.1..60 s, got {self.keyframe_interval_s}"
            )
        if not 0 < self.fps <= 240:
            raise ValueError(f"fps must be in (0, 240], got {self.fps}")
        if self.bitrate_bps is not None and self.bitrate_bps < 10_000:
            raise ValueError(f"bit rate must be at least 10000 bit/s, got {self.bitrate_bps}")
        missing = [c for c in self.candidates(suffix) if c not in av.codecs_available]
        if len(missing) == len(self.candidates(suffix)):
            raise ValueError(f"this FFmpeg build has no {' or '.join(missing)} encoder")

    def family(self, suffix: str) -> str:
        """``h264`` or ``mjpeg``."""
        if self.codec == "auto":
            return CODECS[container_for(suffix)][0]
        return "h264" if self.codec in ("h264", *H264_CODECS) else self.codec

    def candidates(self, suffix: str) -> tuple[str, ...]:
        if self.family(suffix) == "mjpeg":
            return ("mjpeg",)
        return H264_CODECS if self.codec in ("auto", "h264") else (self.codec,)


def even_size(size_wh: tuple[int, int]) -> tuple[int, int]:
    """4:2:0 needs even sizes: an odd last column or row is cropped."""
    return (size_wh[0] // 2 * 2, size_wh[1] // 2 * 2)


@functools.cache
def hardware_h264_opens(size_wh: tuple[int, int], fps: float) -> bool:
    """True when ``h264_v4l2m2m`` opens at this size (a Pi 4; checked once)."""
    if "h264_v4l2m2m" not in av.codecs_available:
        return False
    try:
        ctx = av.CodecContext.create("h264_v4l2m2m", "w")
        _configure(ctx, "h264_v4l2m2m", even_size(size_wh), EncoderOptions(fps=fps))
        ctx.open()
        return True
    except (av.error.FFmpegError, OSError, ValueError) as e:
        log.debug("h264_v4l2m2m does not open at %dx%d: %s", *size_wh, e)
        return False


def choose_codec(suffix: str, size_wh: tuple[int, int], options: EncoderOptions) -> str:
    """The encoder to use: the first candidate that is built in and opens."""
    for codec in options.candidates(suffix):
        if codec not in av.codecs_available:
            continue
        if codec != "h264_v4l2m2m" or hardware_h264_opens(size_wh, options.fps):
            return codec
    raise ValueError(f"no {options.family(suffix)} encoder opens here")


def _configure(
    ctx: av.CodecContext, codec: str, size_wh: tuple[int, int], o: EncoderOptions
) -> None:
    ctx.width, ctx.height = size_wh  # type: ignore[attr-defined]
    ctx.pix_fmt = "yuv420p"  # type: ignore[attr-defined]
    rate = Fraction(o.fps).limit_denominator(1001)
    ctx.framerate = rate  # type: ignore[attr-defined]
    ctx.gop_size = max(1, round(o.fps * o.keyframe_interval_s * 2))  # type: ignore[attr-defined]
    ctx.colorspace, ctx.color_range = BT601, LIMITED_RANGE  # type: ignore[attr-defined]
    ctx.time_base = Fraction(1, 90000)
    if codec == "libx264":
        ctx.thread_count = o.threads
        options = {"preset": o.preset, "crf": str(o.crf), "forced-idr": "1"}
        if o.tune:
            options["tune"] = o.tune
        ctx.options = options
    else:  # V4L2 encoders pace their rate control by the frame rate
        ctx.bit_rate = o.bitrate_bps or min(25_000_000, int(0.07 * size_wh[0] * size_wh[1] * o.fps))


class VideoEncoder(Muxer):
    """BGR uint8 frames in, one video file out (through :class:`Muxer`).

    ``write`` raises ``OSError``/``av.error.FFmpegError`` on a failed write;
    the recorder catches it and calls :meth:`abort`.
    """

    def __init__(
        self,
        out: OutputFile,
        suffix: str,
        size_wh: tuple[int, int],
        options: EncoderOptions | None = None,
        codec: str | None = None,
    ) -> None:
        super().__init__(out, container_for(suffix))
        self.options = o = options or EncoderOptions()
        self.size_wh = size_wh
        """Frames of another size are resized to this."""
        self.codec = codec or choose_codec(suffix, size_wh, o)
        time_base = stream_time_base(self.container_name, o.fps)
        self.timeline = Timeline(time_base)
        self.frames_in = 0
        self._next_key_ns: int | None = None
        self._key_interval_ns = int(o.keyframe_interval_s * 1e9)
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, o.jpeg_quality]
        if self.codec == "mjpeg":
            self.stream = self.container.add_mux_stream(  # type: ignore[assignment]
                "mjpeg", rate=Fraction(o.fps).limit_denominator(1001),
                width=size_wh[0], height=size_wh[1], time_base=time_base,
            )  # fmt: skip
            self._yuv = np.empty((0, 0), np.uint8)
        else:
            w, h = self.encoded_wh = even_size(size_wh)
            stream = self.container.add_stream(self.codec)
            assert isinstance(stream, av.video.stream.VideoStream)
            _configure(stream.codec_context, self.codec, (w, h), o)
            stream.time_base = time_base
            self.stream = stream
            if self.codec == "h264_v4l2m2m":
                try:  # in use by another process since the probe?
                    stream.codec_context.open()
                except av.error.FFmpegError:
                    hardware_h264_opens.cache_clear()  # the next file probes again
                    raise
            self._yuv = np.empty((h * 3 // 2, w), np.uint8)

    def write(self, image: np.ndarray, timestamp_ns: int) -> None:
        assert self.stream is not None
        w, h = self.size_wh
        if image.shape[0] != h or image.shape[1] != w:
            image = cv2.resize(image, (w, h))
        pts = self.timeline.pts(timestamp_ns)
        if self.codec == "mjpeg":
            ok, jpeg = cv2.imencode(".jpg", image, self._jpeg_params)
            if not ok:
                raise ValueError("JPEG encoding failed")
            packet = av.Packet(jpeg.tobytes())
            packet.pts = packet.dts = pts
            packet.time_base = self.timeline.time_base
            packet.is_keyframe = True
            packet.stream = self.stream
            self.frames_in += 1
            self.mux(packet)
            return
        ew, eh = self.encoded_wh
        view = image if (ew, eh) == (w, h) else image[:eh, :ew]
        cv2.cvtColor(view, cv2.COLOR_BGR2YUV_I420, dst=self._yuv)
        frame = av.VideoFrame.from_numpy_buffer(self._yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = self.timeline.time_base
        if self._next_key_ns is None or timestamp_ns >= self._next_key_ns:
            frame.pict_type = PictureType.I
            self._next_key_ns = timestamp_ns + self._key_interval_ns
        self.frames_in += 1
        for packet in self.stream.encode(frame):
            self.mux(packet)

    def finish(self) -> None:
        """Drain the encoder, write the trailer, close the file."""
        if self.codec != "mjpeg" and self.stream is not None and self.frames_in:
            for packet in self.stream.encode(None):
                self.mux(packet)
        super().finish()

    @property
    def frames_durable(self) -> int:
        """Frames known to be in the file (all of them after :meth:`finish`)."""
        return self.packets_durable
