"""``bench --motion``: the motion detector as a stage of its own.

The detector runs on every frame as ``run --motion`` runs it: on the capture
thread in the pipeline modes (through :class:`MotionFrameGate`, which times
it as the ``motion`` stage), inline before preprocessing in the naive loop.
Every frame is still inferred, so the modes' ratios compare the same work
with and without the stage; what gating saves on a still scene is measured
by ``benchmarks/motion_gating.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from camera_app.frames import Frame
from camera_app.motion.config import MotionConfig
from camera_app.motion.frame_gate import TIMING, MotionFrameGate
from camera_app.pipeline.gate import GateDecision
from camera_app.stats import PipelineStats


class MotionStage:
    """A ``FrameGate`` that detects motion on each frame and infers anyway."""

    def __init__(
        self, config: MotionConfig, *, every_frame: bool, stats: PipelineStats | None = None
    ) -> None:
        """``stats``: where the pipeline keeps the ``motion`` timing (None in
        the naive loop, which times :meth:`inline` itself)."""
        self.gate = MotionFrameGate(
            replace(config, enabled=True), None, every_frame=every_frame, stats=stats
        )

    def check(self, frame: Frame) -> GateDecision:
        return GateDecision(True, "", self.gate.check(frame).motion)

    def inline(self, frame: Frame, add: Callable[[str, float], None]) -> None:
        """The naive loop's call: detect on ``frame``, time it as ``motion``."""
        t0 = time.perf_counter_ns()
        self.check(frame)
        add(TIMING, (time.perf_counter_ns() - t0) / 1e6)
