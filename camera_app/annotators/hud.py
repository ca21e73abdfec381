"""The heads-up line: FPS, inference time, latency, drops, camera state."""

from __future__ import annotations

import threading
import time

import numpy as np

from camera_app.annotators.base import put_text, text_scale
from camera_app.results import FrameResult
from camera_app.stats import PipelineStats, StatsSnapshot


def hud_text(result: FrameResult, stats: StatsSnapshot | None) -> str:
    parts = []
    if stats is not None:
        parts.append(f"{stats.fps_inference:.1f} fps")
    if result.inferred:
        parts.append(f"inference {result.timings.inference_ms:.0f} ms")
        parts.append(f"latency {result.latency_ms:.0f} ms")
    else:
        parts.append("not inferred")
    if stats is not None:
        parts.append(f"dropped {stats.dropped_total}")
        if stats.source_state not in ("up", "stopped"):
            parts.append(f"camera {stats.source_state}")
    return " | ".join(parts)


class HudAnnotator:
    """Draws :func:`hud_text` bottom left. The figures are refreshed at most
    every ``refresh_s``: a stats snapshot takes the lock inference also needs."""

    def __init__(self, refresh_s: float = 0.5) -> None:
        self.refresh_ns = int(refresh_s * 1e9)
        self.stats: PipelineStats | None = None
        self._snap: StatsSnapshot | None = None
        self._snap_ns = 0
        self._lock = threading.Lock()

    def snapshot(self) -> StatsSnapshot | None:
        if self.stats is None:
            return None
        now = time.monotonic_ns()
        with self._lock:
            if self._snap is None or now - self._snap_ns >= self.refresh_ns:
                self._snap, self._snap_ns = self.stats.snapshot(), now
            return self._snap

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        scale, _ = text_scale(scene)
        text = hud_text(result, self.snapshot())
        put_text(scene, text, (0, scene.shape[0] - 4), scale * 0.5, (0, 255, 0))
