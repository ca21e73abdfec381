"""Times for a network camera's packets: presentation and decode times on the capture clock.

A stream copied into files needs, for every packet, a presentation time and
a strictly increasing decode time. RTP (RTSP) carries presentation times
only, in the stream's clock (90 kHz for video); FFmpeg's RTSP demuxer gives
the first packet none at all and guesses decode times only once its parser
has seen the reordering, so the first packets' are missing or go backwards.
:class:`PacketTimer` works them out itself:

* It holds the first packets (``lookahead`` of them, or ``lookahead_s`` of
  stream time, whichever comes first) to learn the reorder depth ``D`` (the
  most packets decoded before one that are shown after it: 0 without
  B-frames) and the frame duration, and to give a packet without a time one
  (the first: just before the earliest held, since it is the key frame that
  starts the stream; a later one: one frame after the latest seen).
* Decode times follow FFmpeg's own rule for a known depth: the smallest of
  the ``D + 1`` largest presentation times so far (padded with times before
  the first, one frame apart), which is strictly increasing and never after
  the packet's presentation time while the depth holds. A packet that breaks
  it (deeper reordering than the first packets showed) raises
  :class:`ReorderError`: the caller starts the stream over (withdraw, a new
  timer, announce again at the next key frame).
* Stream time maps to the capture clock (``time.monotonic_ns``, the clock of
  ``Frame.timestamp_ns``) as ``anchor + ticks``. The anchor starts at the
  earliest held packet's arrival minus its stream time, drops whenever a
  packet would otherwise be stamped after it arrived (nothing is captured
  after it is received; this also absorbs a camera clock running fast), and
  creeps up by at most ``slew_ns`` per packet while every packet of the last
  ``window`` arrived more than ``max_lag_ns`` after its stamp (a camera
  clock running slow), so stamps stay within about ``max_lag_ns`` of
  arrival without jumps.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

T = TypeVar("T")
NS = 1_000_000_000


class ReorderError(Exception):
    """A packet is reordered deeper than the depth learned from the first packets."""


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    item: T
    pts: int
    """Presentation time in stream ticks (filled in where the packet had none)."""
    pts_ns: int
    dts_ns: int


def reorder_depth(pts: list[int]) -> int:
    """Most packets decoded before one and shown after it."""
    return max((sum(p > x for p in pts[:i]) for i, x in enumerate(pts)), default=0)


class PacketTimer(Generic[T]):
    """See the module docstring. ``push`` packets in decode order, with their arrival time."""

    def __init__(
        self,
        time_base: Fraction,
        *,
        fallback_fps: float = 30.0,
        lookahead: int = 8,
        lookahead_s: float = 0.5,
        min_depth: int = 0,
        window: int = 60,
        max_lag_ns: int = 250_000_000,
        slew_ns: int = 1_000_000,
        now_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if time_base <= 0:
            raise ValueError(f"time_base must be > 0, got {time_base}")
        self.time_base = time_base
        self.fallback_fps = fallback_fps
        self.lookahead = max(1, lookahead)
        self.lookahead_s = lookahead_s
        self.min_depth = min_depth
        self.max_lag_ns = max_lag_ns
        self.slew_ns = slew_ns
        self._now_ns = now_ns
        self._held: list[tuple[T, int | None, int]] = []
        self.depth: int | None = None
        """Reorder depth once learned (None while holding)."""
        self.frame_ticks = 0
        self._top: list[int] = []  # the depth + 1 largest pts so far, ascending
        self._max_pts = 0
        self._anchor_ns = 0
        self._lags: deque[int] = deque(maxlen=window)
        self._last_dts_ns: int | None = None

    def ticks_ns(self, ticks: int) -> int:
        return ticks * self.time_base.numerator * NS // self.time_base.denominator

    def push(self, item: T, pts: int | None, arrival_ns: int | None = None) -> list[Timed[T]]:
        """Time one packet; returns the packets now timed (none while holding, then all held)."""
        arrival = self._now_ns() if arrival_ns is None else arrival_ns
        if self.depth is not None:
            return [self._time(item, pts, arrival)]
        self._held.append((item, pts, arrival))
        known = [p for _, p, _ in self._held if p is not None]
        span_s = float((max(known) - min(known)) * self.time_base) if known else 0.0
        if len(self._held) < self.lookahead and span_s < self.lookahead_s:
            return []
        return self.flush()

    def flush(self) -> list[Timed[T]]:
        """Stop holding: learn what the held packets tell and time them."""
        held, self._held = self._held, []
        if not held:
            return []
        known = [p for _, p, _ in held if p is not None]
        ordered = sorted(set(known))
        steps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
        fallback = round(1 / (self.fallback_fps * self.time_base))
        self.frame_ticks = min(steps) if steps else max(1, fallback)
        first = (min(known) - self.frame_ticks) if known else 0
        filled: list[tuple[T, int, int]] = []
        for item, pts, arrival in held:
            if pts is None:
                pts = first if not filled else max(p for _, p, _ in filled) + self.frame_ticks
            filled.append((item, pts, arrival))
        self.depth = max(self.min_depth, reorder_depth([p for _, p, _ in filled]))
        lowest = min(p for _, p, _ in filled)
        self._top = [lowest - k * self.frame_ticks for k in range(self.depth, 0, -1)]
        self._max_pts = lowest
        # Anchor on the packet that arrived soonest after its stream time.
        self._anchor_ns = min(a - self.ticks_ns(p) for _, p, a in filled)
        return [self._time(item, pts, arrival) for item, pts, arrival in filled]

    def _time(self, item: T, pts: int | None, arrival_ns: int) -> Timed[T]:
        assert self.depth is not None
        if pts is None:
            pts = self._max_pts + self.frame_ticks
        self._max_pts = max(self._max_pts, pts)
        top = sorted([*self._top, pts])[-(self.depth + 1) :]
        dts = top[0]
        if dts > pts:
            raise ReorderError(
                f"packet at {pts} shown before its decode time {dts}: "
                f"reordered deeper than {self.depth} frames"
            )
        self._top = top
        dts_ns = self._anchor_ns + self.ticks_ns(dts)
        if dts_ns > arrival_ns:  # stamped after it arrived: the anchor was late
            self._anchor_ns -= dts_ns - arrival_ns
            dts_ns = arrival_ns
        self._lags.append(arrival_ns - dts_ns)
        if len(self._lags) == self._lags.maxlen and min(self._lags) > self.max_lag_ns:
            self._anchor_ns += min(self.slew_ns, min(self._lags) - self.max_lag_ns)
        if self._last_dts_ns is not None and dts_ns <= self._last_dts_ns:
            dts_ns = self._last_dts_ns + 1
        self._last_dts_ns = dts_ns
        pts_ns = max(dts_ns, self._anchor_ns + self.ticks_ns(pts))
        return Timed(item, pts, pts_ns, dts_ns)
