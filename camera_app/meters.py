"""Fixed-size meters: the last N samples of a quantity, events per second."""

from __future__ import annotations

import time

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
