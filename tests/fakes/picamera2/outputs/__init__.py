"""Fake of ``picamera2.outputs``: the two output classes camera_app's tests need.

The real package also has ``CircularOutput``, ``FfmpegOutput``, ``FileOutput``,
``PyavOutput`` and ``SplittableOutput``; they are not copied.
"""

from .circularoutput2 import CircularOutput2
from .output import Output

__all__ = ["CircularOutput2", "Output"]
