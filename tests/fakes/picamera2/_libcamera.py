"""Stand-ins for the two libcamera value types a configuration dict carries.

The real ones live in the ``libcamera`` Python bindings; picamera2 checks
``isinstance`` against them in ``configure``. Only what the fake needs.
"""

from __future__ import annotations


class ColorSpace:
    """libcamera.ColorSpace: built through the static constructors below."""

    def __init__(self, name: str, matrix: str, full_range: bool) -> None:
        self.name = name
        self.matrix = matrix
        """Y'CbCr encoding: ``rec601`` or ``rec709`` (``none`` for raw)."""
        self.full_range = full_range

    @staticmethod
    def Raw() -> ColorSpace:
        return ColorSpace("Raw", "none", True)

    @staticmethod
    def Sycc() -> ColorSpace:
        return ColorSpace("sYCC", "rec601", True)

    @staticmethod
    def Smpte170m() -> ColorSpace:
        return ColorSpace("SMPTE170M", "rec601", False)

    @staticmethod
    def Rec709() -> ColorSpace:
        return ColorSpace("Rec709", "rec709", False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColorSpace) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<libcamera.ColorSpace '{self.name}'>"


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0) -> None:
        self.hflip, self.vflip, self.transpose = hflip, vflip, transpose

    def __repr__(self) -> str:
        return f"<libcamera.Transform hflip={self.hflip} vflip={self.vflip}>"
