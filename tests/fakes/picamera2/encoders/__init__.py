"""Fake of ``picamera2.encoders``: ``H264Encoder`` is the hardware encoder only on a Pi 4.

The real package decides once, at import, from ``get_platform()``: on VC4
(Pi 4 and older) ``H264Encoder`` is the V4L2 hardware encoder; on PiSP (Pi 5,
which has no H.264 hardware) the name is bound to ``LibavH264Encoder``
(libx264 on the CPU), so ``from picamera2.encoders import H264Encoder`` works
on both and only the cost differs. The fake decides in ``picamera2.reset()``
(the platform is a per-test knob here), through :func:`bind_platform`.
"""

from __future__ import annotations

from ..platform import Platform, get_platform
from . import h264_encoder
from .encoder import Encoder, Quality
from .libav_h264_encoder import LibavH264Encoder
from .v4l2_encoder import V4L2Encoder

H264Encoder: type[Encoder] = h264_encoder.H264Encoder

__all__ = ["Encoder", "H264Encoder", "LibavH264Encoder", "Quality", "V4L2Encoder", "bind_platform"]


def bind_platform() -> None:
    """Fake only: what the real ``__init__`` does at import, for the current platform."""
    global H264Encoder
    hw_encoder_available = get_platform() == Platform.VC4
    H264Encoder = h264_encoder.H264Encoder if hw_encoder_available else LibavH264Encoder


bind_platform()
