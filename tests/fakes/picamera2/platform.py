"""Fake of ``picamera2.platform``: which ISP the Pi has.

The real module probes the V4L2 devices once at import (``pispbe`` means a
Pi 5, ``bcm2835-isp`` a Pi 4 or older); the fake answers from ``FAKE.platform``.
"""

from __future__ import annotations

from enum import Enum

from .fake import FAKE


class Platform(Enum):
    VC4 = 0
    PISP = 1


def get_platform() -> Platform:
    return Platform.PISP if FAKE.platform == "pi5" else Platform.VC4
