"""Health checks: each returns None when healthy, or why not in a few words."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from camera_app.events import SourceEvent
from camera_app.stats import PipelineStats

HealthCheck = Callable[[], str | None]


class Liveness:
    """The pipeline is alive: the source is up and a frame went through the
    inference stage in the last ``stale_after_s`` seconds, inferred or skipped
    by the motion gate (``frames_through``): a still scene is healthy, a
    stalled camera or a hung interpreter is not. A gated frame carries no
    time stamp, so its progress is noticed when a check sees the count move.
    ``on_event`` keeps the message of the latest source event, so a camera
    that went away says why."""

    def __init__(
        self, stale_after_s: float = 5.0, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.stale_after_s = stale_after_s
        self._clock = clock
        self.stats: PipelineStats | None = None
        self._event: SourceEvent | None = None
        self._lock = threading.Lock()
        self._seen = (0, 0)  # (frames_through, when a check saw it change)

    def on_event(self, event: SourceEvent) -> None:
        if event.kind in ("source_down", "source_up"):
            self._event = event

    def source_up(self) -> bool:
        event, stats = self._event, self.stats
        if event is not None and event.kind == "source_down":
            return False
        return stats is not None and stats.source_state == "up"

    def __call__(self) -> str | None:
        stats = self.stats
        if stats is None:
            return "pipeline not started"
        if not self.source_up():
            state = stats.source_state if stats.source_state != "up" else "down"
            event = self._event
            why = event.message if event is not None and event.kind == "source_down" else ""
            return f"source {state}: {why}" if why else f"source {state}"
        through, now = stats.frames_through, self._clock()
        if not through:
            return "no frame processed yet"
        with self._lock:
            if through != self._seen[0]:
                self._seen = (through, now if stats.gated_total else 0)
            last_ns = max(stats.last_processed_ns, self._seen[1])
        age_s = (now - last_ns) / 1e9
        if age_s > self.stale_after_s:
            return f"no frame processed for {age_s:.1f} s"
        return None


def outputs_check(liveness: Liveness) -> HealthCheck:
    """Fails while an output (a recording, a log) reports itself failed."""

    def check() -> str | None:
        stats = liveness.stats
        failed = [] if stats is None else stats.snapshot().failed_outputs()
        return "output " + "; ".join(failed) if failed else None

    return check
