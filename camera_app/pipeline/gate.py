"""The gate on the capture thread: is this frame worth inferring?

A gate (motion detection, a detect rate: :mod:`camera_app.motion.frame_gate`)
answers per frame, cheaply, before preprocessing. A frame it skips still
reaches the sinks that want such frames (``Sink.wants_gated``), marked
``inferred=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from camera_app.frames import Frame
from camera_app.results import Motion


@dataclass(frozen=True, slots=True)
class GateDecision:
    infer: bool
    reason: str = ""
    """Why not: ``no_motion``, ``rate``..."""
    motion: Motion | None = None


INFER = GateDecision(True)


class FrameGate(Protocol):
    """Decides on the capture thread whether a frame is inferred (cheap)."""

    def check(self, frame: Frame) -> GateDecision: ...
