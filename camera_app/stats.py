"""Pipeline statistics: counters, drops by stage, rates and percentiles.

Written by the pipeline threads, read by sinks, the web page, the systemd
status line and the exit summary. Memory is bounded: timings keep the last
``window`` values in fixed ring buffers.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from camera_app.meters import RateMeter, Reservoir


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p95: float | None
    p99: float | None
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "count": self.count}


@dataclass(frozen=True, slots=True)
class OutputHealth:
    """What an output (a recording, a log) says of itself: ``ok``, or failed and why."""

    ok: bool
    detail: str = ""
    written: int = 0
    """Items actually written (frames, lines)."""
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "written": self.written,
            "failures": self.failures,
        }


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """A consistent copy of :class:`PipelineStats` at one instant."""

    uptime_s: float
    elapsed_s: float
    captured: int
    processed: int
    """Frames inferred."""
    gated: Mapping[str, int]
    """Frames captured but not inferred, by reason (``no_motion``, ``rate``)."""
    dropped: Mapping[str, int]
    handled: Mapping[str, int]
    fps_capture: float
    fps_inference: float
    fps_average: float
    timings_ms: Mapping[str, Percentiles]
    source_state: str
    reconnects: int
    stalls: int
    model: Mapping[str, Any]
    source: Mapping[str, Any]
    outputs: Mapping[str, OutputHealth]
    motion: bool | None = None
    """Motion now, when the motion detector runs."""
    frames_with: Mapping[str, int] = field(default_factory=dict)
    """Inferred frames with at least one detection of each label."""

    @property
    def dropped_total(self) -> int:
        return int(sum(self.dropped.values()))

    @property
    def gated_total(self) -> int:
        return int(sum(self.gated.values()))

    def timing(self, key: str) -> Percentiles | None:
        return self.timings_ms.get(key)

    def failed_outputs(self) -> list[str]:
        return [f"{k}: {v.detail}" for k, v in sorted(self.outputs.items()) if not v.ok]

    def to_json(self) -> dict[str, Any]:
        """The ``/api/stats`` object."""
        return {
            "uptime_s": self.uptime_s,
            "elapsed_s": self.elapsed_s,
            "captured": self.captured,
            "processed": self.processed,
            "gated": dict(self.gated),
            "gated_total": self.gated_total,
            "dropped": dict(self.dropped),
            "dropped_total": self.dropped_total,
            "handled": dict(self.handled),
            "fps": {
                "capture": self.fps_capture,
                "inference": self.fps_inference,
                "average": self.fps_average,
            },
            "timings_ms": {k: v.to_json() for k, v in self.timings_ms.items()},
            "source_state": self.source_state,
            "reconnects": self.reconnects,
            "stalls": self.stalls,
            "model": dict(self.model),
            "source": dict(self.source),
            "outputs": {k: v.to_json() for k, v in self.outputs.items()},
            "motion": self.motion,
            "frames_with": dict(self.frames_with),
        }


@dataclass
class PipelineStats:
    """Thread-safe counters; ``snapshot()`` gives a consistent :class:`StatsSnapshot`."""

    started_ns: int = field(default_factory=time.monotonic_ns)
    captured: int = 0
    processed: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    handled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    source_state: str = "starting"
    reconnects: int = 0
    stalls: int = 0
    model: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    last_processed_ns: int = 0
    last_captured_ns: int = 0
    motion: bool | None = None
    gated_total: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._frames_with: dict[int, int] = defaultdict(int)
        self.labels: Any = None
        """The model's labels (``name(class_id)``), for naming ``frames_with``."""
        self.timings: dict[str, Reservoir] = defaultdict(Reservoir)
        self.capture_rate = RateMeter()
        self.process_rate = RateMeter()
        self.ended_ns: int | None = None
        self._outputs: dict[str, Callable[[], OutputHealth]] = {}

    def on_captured(self, now_ns: int) -> None:
        with self._lock:
            self.captured += 1
            self.last_captured_ns = now_ns
            self.capture_rate.mark(now_ns)

    def on_gated(self, reason: str) -> None:
        """A captured frame was checked and deliberately not inferred."""
        with self._lock:
            self.gated[reason] += 1
            self.gated_total += 1

    @property
    def frames_through(self) -> int:
        """Frames that went all the way through the inference stage, inferred
        or deliberately not (a still scene the motion gate skipped): the
        liveness the watchdog and health checks read. It stops when the
        camera stalls or the interpreter hangs, not when a scene is still."""
        return self.processed + self.gated_total

    def on_drop(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[stage] += n

    def on_processed(self, now_ns: int, latency_ms: float, timings: Mapping[str, float]) -> None:
        with self._lock:
            self.processed += 1
            self.last_processed_ns = now_ns
            self.process_rate.mark(now_ns)
            self.timings["latency"].add(latency_ms)
            for k, v in timings.items():
                self.timings[k].add(v)

    def on_classes(self, class_ids: Iterable[int]) -> None:
        """The classes one inferred frame's detections have (each counted once)."""
        with self._lock:
            for c in set(class_ids):
                self._frames_with[c] += 1

    def on_timing(self, stage: str, ms: float) -> None:
        with self._lock:
            self.timings[stage].add(ms)

    def on_handled(self, sink: str, ms: float) -> None:
        with self._lock:
            self.handled[sink] += 1
            self.timings[f"sink:{sink}"].add(ms)

    def set_source_state(self, state: str) -> None:
        with self._lock:
            self.source_state = state

    def register_output(self, name: str, health: Callable[[], OutputHealth]) -> None:
        """An output that can fail at run time (recording, log) reports its
        health through ``health`` (called from any thread, must not block)."""
        with self._lock:
            self._outputs[name] = health

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def finish(self) -> None:
        self.ended_ns = time.monotonic_ns()

    def snapshot(self) -> StatsSnapshot:
        now = time.monotonic_ns()
        with self._lock:
            end = self.ended_ns or now
            elapsed = max(1e-9, (end - self.started_ns) / 1e9)
            times = {}
            for k, r in sorted(self.timings.items()):
                p50, p95, p99 = r.percentiles(50, 95, 99)
                times[k] = Percentiles(p50, p95, p99, r.count)
            outputs = dict(self._outputs)
            labels = self.labels
            frames_with = {
                (labels.name(c) if labels is not None else None) or str(c): n
                for c, n in sorted(self._frames_with.items(), key=lambda kv: -kv[1])
            }
            snap = StatsSnapshot(
                uptime_s=round((now - self.started_ns) / 1e9, 3),
                elapsed_s=round(elapsed, 3),
                captured=self.captured,
                processed=self.processed,
                gated=dict(self.gated),
                dropped=dict(self.dropped),
                handled=dict(self.handled),
                fps_capture=round(self.capture_rate.rate(now), 2),
                fps_inference=round(self.process_rate.rate(now), 2),
                fps_average=round(self.processed / elapsed, 2),
                timings_ms=times,
                source_state=self.source_state,
                reconnects=self.reconnects,
                stalls=self.stalls,
                model=dict(self.model),
                source=dict(self.source),
                outputs={},
                motion=self.motion,
                frames_with=frames_with,
            )
        # outside the lock: an output's health callable may take its own lock
        return replace(snap, outputs={k: fn() for k, fn in outputs.items()})


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def status_line(s: StatsSnapshot) -> str:
    """One line for logs and systemd's STATUS=."""
    lat, inf = s.timing("latency"), s.timing("inference")
    line = (
        f"{s.source_state}: {s.fps_inference:.1f} fps, processed {s.processed}, "
        f"dropped {s.dropped_total}, latency p50 {_fmt(lat.p50 if lat else None)} ms, "
        f"inference p50 {_fmt(inf.p50 if inf else None)} ms, reconnects {s.reconnects}"
    )
    if s.gated_total:
        line += f", not inferred {s.gated_total}"
    failed = s.failed_outputs()
    if failed:
        line += "; FAILED " + "; ".join(failed)
    return line


def summary_text(s: StatsSnapshot) -> str:
    """The exit summary: several lines for a person."""

    def pp(key: str) -> str:
        v = s.timing(key)
        return "-" if not v else f"p50 {_fmt(v.p50)} / p95 {_fmt(v.p95)} ms"

    drops = ", ".join(f"{k} {v}" for k, v in sorted(s.dropped.items()) if v) or "none"
    lines = [
        f"frames: captured {s.captured}, processed {s.processed}, dropped {s.dropped_total} ({drops})",
        f"fps: {s.fps_average:.2f} average over {s.elapsed_s:.1f} s",
        f"latency: {pp('latency')}; inference: {pp('inference')}; preprocess: {pp('preprocess')}; decode: {pp('decode')}",
    ]
    if s.frames_with:
        top = list(s.frames_with.items())[:5]
        lines.append(
            "detections: "
            + ", ".join(f"{label} in {n}" for label, n in top)
            + f" of {s.processed} inferred frames"
        )
    if s.gated_total or "motion" in s.timings_ms:
        why = ", ".join(f"{k} {v}" for k, v in sorted(s.gated.items())) or "none"
        motion = f"; motion detector {pp('motion')}" if "motion" in s.timings_ms else ""
        lines.append(f"not inferred: {s.gated_total} ({why}){motion}")
    stages = [k for k in s.timings_ms if k.startswith("analysis:")]
    if stages:
        lines.append("analysis: " + "; ".join(f"{k[9:]} {pp(k)}" for k in stages))
    sinks = [k for k in s.timings_ms if k.startswith("sink:")]
    if sinks:
        lines.append("sinks: " + "; ".join(f"{k[5:]} {pp(k)}" for k in sinks))
    for name, health in sorted(s.outputs.items()):
        state = "ok" if health.ok else f"FAILED ({health.detail})"
        lines.append(f"output {name}: {health.written} written, {state}")
    if s.reconnects or s.stalls:
        lines.append(f"source: reconnects {s.reconnects}, stalls {s.stalls}")
    return "\n".join(lines)
