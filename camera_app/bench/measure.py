"""Timers and process meters: stage samples, CPU time by thread, RSS."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camera_app.frames import Frame, SourceInfo
from camera_app.sources.base import Source

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK_S = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def rss_mb() -> float:
    """Resident set size now (Linux ``/proc``; elsewhere the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def summarize(values: Any) -> dict[str, float | int | None]:
    """mean/p50/p95/p99/count of samples in milliseconds."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"mean": None, "p50": None, "p95": None, "p99": None, "count": 0}
    p50, p95, p99 = np.percentile(v, (50, 95, 99))
    return {
        "mean": round(float(v.mean()), 3),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "count": len(v),
    }


class StageTimes:
    """Per-stage samples in milliseconds (one list per stage name)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, stage: str, ms: float) -> None:
        self.samples[stage].append(ms)

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {k: summarize(v) for k, v in self.samples.items()}


class TimedSource:
    """Wraps a source and times each ``read`` (the pipeline's capture stage).

    ``paced``: the source waits until each frame is due (realtime replay at
    its ``info.fps``); that wait is not capture work, so the stage time
    starts at the later of the call and the due time (``start + n / fps``).

    ``stop`` waits for a ``read`` in progress: ``VideoFileSource.stop``
    closes the decoder that a concurrent ``read`` may still be decoding
    from, which aborts the process in FFmpeg (see benchmarks/README.md).

    A video file's frames are converted to BGR when first read, not in
    ``read``: that cost shows in whichever stage reads the image first
    (preprocess, a sink), not in capture.
    """

    def __init__(self, source: Source, times: StageTimes, paced: bool = False) -> None:
        self._source = source
        self._times = times
        self._paced = paced
        self._period_ns = 0
        self._t0_ns = 0
        self._n = 0
        self._reading = threading.Lock()

    @property
    def info(self) -> SourceInfo:
        return self._source.info

    def start(self) -> SourceInfo:
        info = self._source.start()
        self._t0_ns = time.monotonic_ns()
        if self._paced:
            self._period_ns = int(1e9 / (info.fps or 30.0))
        return info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        t0 = time.monotonic_ns()
        with self._reading:
            frame = self._source.read(timeout_s)
        if frame is not None:
            now = time.monotonic_ns()
            due = self._t0_ns + self._n * self._period_ns if self._period_ns else 0
            self._times.add("capture", (now - (max(t0, due) if due <= now else t0)) / 1e6)
            self._n += 1
        return frame

    def stop(self) -> None:
        with self._reading:
            self._source.stop()


def _thread_cpu_s(tid: int) -> float | None:
    try:
        with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime


class ThreadCpu:
    """CPU seconds by thread, sampled from ``/proc`` (Linux; 10 ms resolution).

    Python threads are named by their thread name; threads the runtime or
    the codecs start natively are summed as ``native``. Call ``sample()``
    often (the pipeline tick): a thread's last sample is its total.
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[str, float]] = {}
        self._base: dict[int, float] = {}
        self._lock = threading.Lock()
        self.available = os.path.isdir("/proc/self/task")
        if self.available:
            self.sample(baseline=True)

    def sample(self, baseline: bool = False) -> None:
        if not self.available:
            return
        names = {t.native_id: t.name for t in threading.enumerate()}
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            return
        with self._lock:
            for tid in tids:
                cpu = _thread_cpu_s(tid)
                if cpu is None:
                    continue
                if baseline:
                    self._base[tid] = cpu
                    continue
                name = names.get(tid)
                if tid == threading.main_thread().native_id:
                    name = "main"
                elif name is None:  # native, or a Python thread that just ended
                    name = self._last[tid][0] if tid in self._last else "native"
                self._last[tid] = (name, cpu - self._base.get(tid, 0.0))

    def totals_s(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        with self._lock:
            for name, cpu in self._last.values():
                out[name] += cpu
        return {k: round(v, 3) for k, v in sorted(out.items()) if v > 0}


@dataclass
class CpuClock:
    """Process CPU seconds and wall seconds between ``start`` and ``stop``."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    _t0: tuple[float, float] = field(default=(0.0, 0.0), repr=False)

    def start(self) -> CpuClock:
        self._t0 = (time.perf_counter(), time.process_time())
        return self

    def stop(self) -> CpuClock:
        self.wall_s += time.perf_counter() - self._t0[0]
        self.cpu_s += time.process_time() - self._t0[1]
        return self


@dataclass
class ModeResult:
    """What one measured mode did: throughput, stage times, CPU, latency."""

    mode: str
    frames: int
    wall_s: float
    cpu_s: float
    stages: dict[str, dict[str, float | int | None]]
    latency: dict[str, float | int | None] | None = None
    dropped: int = 0
    thread_cpu_s: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    latency_samples_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_frame(self) -> float | None:
        return 1000.0 * self.cpu_s / self.frames if self.frames else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "frames": self.frames,
            "wall_s": round(self.wall_s, 3),
            "fps": round(self.fps, 2),
            "cpu_ms_per_frame": _r(self.cpu_ms_per_frame),
            "stages_ms": self.stages,
        }
        if self.latency is not None:
            out["latency_ms"] = self.latency
            out["dropped"] = self.dropped
        if self.thread_cpu_s:
            out["thread_cpu_ms_per_frame"] = (
                {k: round(1000.0 * v / self.frames, 2) for k, v in self.thread_cpu_s.items()}
                if self.frames
                else {}
            )
        out.update(self.extra)
        return out


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)
