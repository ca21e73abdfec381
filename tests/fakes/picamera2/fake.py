"""The fake's control panel: what the "hardware" is and how it misbehaves.

Tests call :func:`picamera2.reset` (re-exported from the package) before each
test, then read or set the attributes of :data:`FAKE`. Nothing here exists in
the real picamera2.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .picamera2 import Picamera2
    from .request import CompletedRequest

RGB = tuple[int, int, int]

# What a Raspberry Pi Camera Module 3 reports on a Pi 5 (trimmed).
DEFAULT_CAMERA: dict[str, Any] = {
    "Model": "imx708",
    "Location": 2,
    "Rotation": 180,
    "Id": "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a",
}


@dataclass
class FakeState:
    platform: str = "pi4"
    """``pi4`` (VC4 ISP: lores must be YUV) or ``pi5`` (PiSP: lores may be RGB)."""
    cameras: list[dict[str, Any]] = field(default_factory=lambda: [dict(DEFAULT_CAMERA)])
    busy: set[int] = field(default_factory=set)
    """Camera numbers held by "another process": opening them fails like the real one."""
    hang: bool = False
    """Deliver no frames (cable pulled, sensor stalled): captures wait forever."""
    fail_after_frames: int | None = None
    """After this many frames, every capture job raises ``RuntimeError``."""
    make_array_error: BaseException | None = None
    """Raised by ``CompletedRequest.make_array`` when set."""
    configure_error: str | None = None
    """``configure()`` raises ``RuntimeError(configure_error)`` when set."""
    encoder_error: str | None = None
    """The hardware encoder's ``_start`` raises ``OSError(encoder_error)``, as
    opening a busy or missing ``/dev/video11`` does (Pi 4 only)."""
    scene_left_rgb: RGB = (200, 40, 30)
    """True RGB of the left half of every image (a red)."""
    scene_right_rgb: RGB = (30, 60, 190)
    """True RGB of the right half (a blue)."""
    # Records, for assertions.
    configs: list[dict[str, Any]] = field(default_factory=list)
    """Every configuration passed to ``configure`` (after the fake filled in strides)."""
    requests: list[CompletedRequest] = field(default_factory=list)
    """Every request the fake camera produced."""
    opened: dict[int, Picamera2] = field(default_factory=dict)
    encoder_starts: list[Any] = field(default_factory=list)
    """Every encoder ``start_encoder`` started, in order."""
    frames_delivered: int = 0
    job_queued: threading.Event = field(default_factory=threading.Event)
    """Set whenever a job (a capture) is queued: tests wait on it instead of sleeping."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def outstanding(self) -> list[CompletedRequest]:
        """Requests not yet released back to the (fake) camera."""
        with self.lock:
            return [r for r in self.requests if r.ref_count > 0]

    def set_hang(self, hang: bool) -> None:
        """Change :attr:`hang` and wake the running cameras' event loops."""
        self.hang = hang
        for cam in list(self.opened.values()):
            cam._wake()


FAKE = FakeState()
