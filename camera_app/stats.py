"""Pipeline statistics: counters, drops by stage, rates and percentiles.

Written by the pipeline threads, read by sinks, the web page, the systemd
status line and the exit summary. Memory is bounded: timings keep the last
``window`` values in fixed ring buffers.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Reservoir:
    """The last ``size`` samples of one quantity, in a preallocated ring."""

    def __init__(self, size: int = 2048) -> None:
        self._buf = np.zeros(size, np.float64)
        self._n = 0

    def add(self, value: float) -> None:
        self._buf[self._n % len(self._buf)] = value
        self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        return self._buf[: min(self._n, len(self._buf))].copy()

    def percentiles(self, *qs: float) -> list[float | None]:
        v = self.values()
        if not len(v):
            return [None for _ in qs]
        return [float(x) for x in np.percentile(v, qs)]


class RateMeter:
    """Events per second over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 2.0, size: int = 512) -> None:
        self.window_ns = int(window_s * 1e9)
        self._t = np.zeros(size, np.int64)
        self._n = 0

    def mark(self, now_ns: int) -> None:
        self._t[self._n % len(self._t)] = now_ns
        self._n += 1

    def rate(self, now_ns: int | None = None) -> float:
        n = min(self._n, len(self._t))
        if n < 2:
            return 0.0
        now = now_ns or time.monotonic_ns()
        t = self._t[:n]
        recent = t[t >= now - self.window_ns]
        if len(recent) < 2:
            return 0.0
        span = (now - recent.min()) / 1e9
        return float(len(recent) / span) if span > 0 else 0.0


@dataclass
class PipelineStats:
    """Thread-safe counters; ``snapshot()`` gives a consistent dict."""

    started_ns: int = field(default_factory=time.monotonic_ns)
    captured: int = 0
    processed: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    handled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    source_state: str = "starting"
    reconnects: int = 0
    stalls: int = 0
    model: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    last_processed_ns: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.timings: dict[str, Reservoir] = defaultdict(Reservoir)
        self.capture_rate = RateMeter()
        self.process_rate = RateMeter()
        self.ended_ns: int | None = None

    def on_captured(self, now_ns: int) -> None:
        with self._lock:
            self.captured += 1
            self.capture_rate.mark(now_ns)

    def on_drop(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[stage] += n

    def on_processed(self, now_ns: int, latency_ms: float, timings: dict[str, float]) -> None:
        with self._lock:
            self.processed += 1
            self.last_processed_ns = now_ns
            self.process_rate.mark(now_ns)
            self.timings["latency"].add(latency_ms)
            for k, v in timings.items():
                self.timings[k].add(v)

    def on_handled(self, sink: str, ms: float) -> None:
        with self._lock:
            self.handled[sink] += 1
            self.timings[f"sink:{sink}"].add(ms)

    def set_source_state(self, state: str) -> None:
        with self._lock:
            self.source_state = state

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def finish(self) -> None:
        self.ended_ns = time.monotonic_ns()

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic_ns()
        with self._lock:
            end = self.ended_ns or now
            elapsed = max(1e-9, (end - self.started_ns) / 1e9)
            times = {}
            for k, r in sorted(self.timings.items()):
                p50, p95, p99 = r.percentiles(50, 95, 99)
                times[k] = {"p50": p50, "p95": p95, "p99": p99, "count": r.count}
            return {
                "uptime_s": round((now - self.started_ns) / 1e9, 3),
                "elapsed_s": round(elapsed, 3),
                "captured": self.captured,
                "processed": self.processed,
                "dropped": dict(self.dropped),
                "dropped_total": int(sum(self.dropped.values())),
                "handled": dict(self.handled),
                "fps": {
                    "capture": round(self.capture_rate.rate(now), 2),
                    "inference": round(self.process_rate.rate(now), 2),
                    "average": round(self.processed / elapsed, 2),
                },
                "timings_ms": times,
                "source_state": self.source_state,
                "reconnects": self.reconnects,
                "stalls": self.stalls,
                "model": self.model,
                "source": self.source,
            }


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def status_line(s: dict[str, Any]) -> str:
    """One line for logs and systemd's STATUS=."""
    t = s["timings_ms"]
    lat = t.get("latency", {})
    inf = t.get("inference", {})
    return (
        f"{s['source_state']}: {s['fps']['inference']:.1f} fps, processed {s['processed']}, "
        f"dropped {s['dropped_total']}, latency p50 {_fmt(lat.get('p50'))} ms, "
        f"inference p50 {_fmt(inf.get('p50'))} ms, reconnects {s['reconnects']}"
    )


def summary_text(s: dict[str, Any]) -> str:
    """The exit summary: several lines for a person."""
    t = s["timings_ms"]

    def pp(key: str) -> str:
        v = t.get(key)
        return "-" if not v else f"p50 {_fmt(v['p50'])} / p95 {_fmt(v['p95'])} ms"

    drops = ", ".join(f"{k} {v}" for k, v in sorted(s["dropped"].items()) if v) or "none"
    lines = [
        f"frames: captured {s['captured']}, processed {s['processed']}, dropped {s['dropped_total']} ({drops})",
        f"fps: {s['fps']['average']:.2f} average over {s['elapsed_s']:.1f} s",
        f"latency: {pp('latency')}; inference: {pp('inference')}; preprocess: {pp('preprocess')}; decode: {pp('decode')}",
    ]
    sinks = [k for k in t if k.startswith("sink:")]
    if sinks:
        lines.append("sinks: " + "; ".join(f"{k[5:]} {pp(k)}" for k in sinks))
    if s["reconnects"] or s["stalls"]:
        lines.append(f"source: reconnects {s['reconnects']}, stalls {s['stalls']}")
    return "\n".join(lines)
