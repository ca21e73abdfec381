"""Fake of ``picamera2.encoders.h264_encoder``: the hardware H.264 encoder (Pi 4 and older).

Same constructor and checks as picamera2 0.3.36's ``H264Encoder``: the
profile name must be one FFmpeg uses, ``_setup`` turns a ``Quality`` (or
none given, with no bitrate or qp set) into a bitrate scaled from the 1080p30
table, and ``_start`` records the V4L2 controls it would set (kept in
``_controls`` by name instead of V4L2 ids) before starting the codec (see
``v4l2_encoder.py``).
"""

from __future__ import annotations

from typing import Any

from .encoder import Quality
from .v4l2_encoder import V4L2Encoder

_PROFILES = ("baseline", "constrained baseline", "main", "high")


class H264Encoder(V4L2Encoder):
    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int | None = None,
        framerate: float | None = None,
        enable_sps_framerate: bool = False,
        qp: int | None = None,
        profile: str | None = None,
    ) -> None:
        super().__init__(bitrate, "H264")
        self.iperiod = iperiod
        self.repeat = repeat
        self.qp = qp
        self.profile = profile
        self.framerate = framerate
        self._enable_framerate = enable_sps_framerate

    def _send_streams(self, output: Any) -> None:
        output._add_stream("video", "h264", width=self._width, height=self._height)

    def _start(self) -> None:
        self._controls = []
        if self.profile:
            if not isinstance(self.profile, str):
                raise RuntimeError("Profile should be a string value")
            if self.profile.lower() not in _PROFILES:
                raise RuntimeError("Profile " + self.profile + " not recognised")
            self._controls += [("H264_PROFILE", _PROFILES.index(self.profile.lower()))]
        if self.iperiod is not None:
            self._controls += [("H264_I_PERIOD", self.iperiod)]
        if self.repeat:
            self._controls += [("REPEAT_SEQ_HEADER", 1)]
        if self.qp is not None:
            self._controls += [("H264_MIN_QP", self.qp), ("H264_MAX_QP", self.qp)]
        for out in self._output:
            self._send_streams(out)
        super()._start()

    def _setup(self, quality: Quality | None) -> None:
        if quality is not None or (
            getattr(self, "bitrate", None) is None and getattr(self, "qp", None) is None
        ):
            quality = Quality.MEDIUM if quality is None else quality
            table = {
                Quality.VERY_LOW: 2,
                Quality.LOW: 4,
                Quality.MEDIUM: 6,
                Quality.HIGH: 9,
                Quality.VERY_HIGH: 15,
            }
            reference_complexity = 1920 * 1080 * 30
            actual_complexity = self.width * self.height * getattr(self, "framerate", 30)
            self.bitrate = int(table[quality] * 1000000 * actual_complexity / reference_complexity)

    def force_key_frame(self) -> None:
        self._key_frames_requested += 1
