"""Which frames get inference, and the motion ON/OFF state.

:class:`InferenceGate` wants a frame when there is motion, while tracked
objects are active, or when nothing was inferred for ``keepalive_s`` (so a
newcomer who stands still is still found); it then lets at most ``fps``
wanted frames a second through. Time is the caller's ``timestamp_ns``
(capture time live, media time on replay), so the same frames and
timestamps always give the same decisions, however fast the machine is.

Tracked objects without motion (a person standing still, or a stationary
false positive such as a TV screen) want a frame every ``tracks_interval_s``,
not every frame: that keeps their tracks matched (the tracker loses a track
after ``[tracker] max_disappeared_s``, 2 s by default) without running the
model at the full rate for something that does not move. Anything that
moves makes motion, and motion wants every frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from camera_app.motion.config import MotionConfig

log = logging.getLogger(__name__)

TRACKS_INTERVAL_S = 0.5
"""Default ``tracks_interval_s``: a quarter of the tracker's default
``max_disappeared_s`` (2 s), so a still object is matched 3-4 times before
its track could be lost."""

Reason = Literal["first", "motion", "tracks", "keepalive", "ungated", "no_motion", "rate"]


@dataclass(frozen=True, slots=True)
class GateDecision:
    infer: bool
    reason: Reason
    """Why: ``first`` (first frame, or after timestamps went back),
    ``motion``, ``tracks``, ``keepalive``, ``ungated`` (motion gating off);
    skipped: ``no_motion`` or ``rate`` (wanted, beyond the ``fps`` cap)."""


@dataclass(frozen=True, slots=True)
class GateCounts:
    """Frames per outcome since the gate was built (for stats and /metrics)."""

    inferred: int = 0
    skipped_no_motion: int = 0
    skipped_rate: int = 0

    @property
    def total(self) -> int:
        return self.inferred + self.skipped_no_motion + self.skipped_rate


class InferenceGate:
    """Decides per frame whether inference runs.

    ``motion_gating=False`` wants every frame (only the ``fps`` cap applies).
    ``keepalive_s=0`` turns the keep-alive off; ``fps=None`` means no cap;
    ``tracks_interval_s=0`` wants every frame while tracks are active.
    The cap keeps a next-due time that advances by exactly ``1/fps`` per
    inference, so a 30 fps source capped at 5 gives 5 inferences a second
    on average whatever the frame timing; after a pause (no wanted frames)
    it starts again from the next wanted frame, without a burst.
    """

    def __init__(
        self,
        *,
        motion_gating: bool = True,
        keepalive_s: float = 5.0,
        fps: float | None = None,
        tracks_interval_s: float = TRACKS_INTERVAL_S,
    ) -> None:
        if not keepalive_s >= 0:
            raise ValueError(f"keepalive_s: expected >= 0, got {keepalive_s}")
        if not tracks_interval_s >= 0:
            raise ValueError(f"tracks_interval_s: expected >= 0, got {tracks_interval_s}")
        if fps is not None and not fps > 0:
            raise ValueError(f"fps: expected > 0 or None, got {fps}")
        self.motion_gating = motion_gating
        self.keepalive_ns = round(keepalive_s * 1e9)
        self.tracks_interval_ns = round(tracks_interval_s * 1e9)
        self.period_ns = None if fps is None else round(1e9 / fps)
        self._last_ns: int | None = None
        self._last_inferred_ns: int | None = None
        self._next_due_ns: int | None = None
        self._inferred = self._no_motion = self._rate = 0

    @classmethod
    def from_config(
        cls,
        motion: MotionConfig,
        fps: float | None,
        tracks_interval_s: float = TRACKS_INTERVAL_S,
    ) -> InferenceGate:
        """``[motion]`` (gating when ``enabled``, ``keepalive_s``) and the
        ``[detect] fps`` cap (pass None where it should not apply)."""
        return cls(
            motion_gating=motion.enabled,
            keepalive_s=motion.keepalive_s,
            fps=fps,
            tracks_interval_s=tracks_interval_s,
        )

    @property
    def counts(self) -> GateCounts:
        return GateCounts(self._inferred, self._no_motion, self._rate)

    def decide(self, timestamp_ns: int, *, motion: bool, active_tracks: int = 0) -> GateDecision:
        """Whether to infer the frame captured at ``timestamp_ns``; counts it."""
        if self._last_ns is not None and timestamp_ns < self._last_ns:
            log.debug(
                "gate: timestamps went back (%d < %d): restarting", timestamp_ns, self._last_ns
            )
            self._last_inferred_ns = self._next_due_ns = None
        self._last_ns = timestamp_ns
        reason = self._wanted(timestamp_ns, motion, active_tracks)
        if reason is None:
            self._no_motion += 1
            return GateDecision(False, "no_motion")
        due = self._next_due_ns
        if due is not None and timestamp_ns < due:
            self._rate += 1
            return GateDecision(False, "rate")
        if self.period_ns is not None:
            if due is None or timestamp_ns - due >= self.period_ns:
                due = timestamp_ns  # first, or after a pause: no catch-up burst
            self._next_due_ns = due + self.period_ns
        self._last_inferred_ns = timestamp_ns
        self._inferred += 1
        return GateDecision(True, reason)

    def _wanted(self, ts: int, motion: bool, active_tracks: int) -> Reason | None:
        if self._last_inferred_ns is None:
            return "first"
        if not self.motion_gating:
            return "ungated"
        if motion:
            return "motion"
        since_ns = ts - self._last_inferred_ns
        if active_tracks > 0 and since_ns >= self.tracks_interval_ns:
            return "tracks"
        if self.keepalive_ns and since_ns >= self.keepalive_ns:
            return "keepalive"
        return None


class MotionState:
    """Motion ON at once, OFF after ``off_delay_s`` without motion (by
    frame timestamps): the retained ``<prefix>/motion`` topic."""

    def __init__(self, off_delay_s: float = 30.0) -> None:
        if not off_delay_s >= 0:
            raise ValueError(f"off_delay_s: expected >= 0, got {off_delay_s}")
        self.off_delay_ns = round(off_delay_s * 1e9)
        self.on: bool | None = None
        """None until the first frame, then the current state."""
        self._last_motion_ns: int | None = None

    def update(self, timestamp_ns: int, motion: bool) -> bool | None:
        """The new state when it changed (the first frame always reports one),
        else None."""
        if motion:
            self._last_motion_ns = timestamp_ns
            new = True
        elif self._last_motion_ns is None:
            new = False
        else:
            if timestamp_ns < self._last_motion_ns:  # went back (a replay looped)
                self._last_motion_ns = timestamp_ns
            elapsed = timestamp_ns - self._last_motion_ns
            new = bool(self.on) and elapsed < self.off_delay_ns
        if new == self.on:
            return None
        self.on = new
        return new
