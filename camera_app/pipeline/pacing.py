"""How frames are paced through the pipeline: decided once per run."""

from __future__ import annotations

import enum

from camera_app.errors import UsageError


class Pacing(enum.Enum):
    EVERY_FRAME = "every-frame"
    """A file, every frame, as fast as the pipeline takes them: nothing is
    dropped and results (tracks, events) are deterministic."""
    REALTIME = "realtime"
    """A file paced at its own frame rate, newest frame wins: a camera simulator."""
    LIVE = "live"
    """A camera or stream: newest frame wins, drops are counted."""

    @property
    def lossless(self) -> bool:
        return self is Pacing.EVERY_FRAME

    @classmethod
    def decide(cls, live_source: bool, mode: str | None) -> Pacing:
        """``mode``: ``every-frame``, ``realtime`` or None/``auto`` (files:
        every frame, live sources: live)."""
        if mode == "every-frame":
            return cls.EVERY_FRAME
        if live_source and mode in (None, "auto", "realtime"):
            return cls.LIVE
        if mode in (None, "auto"):
            return cls.EVERY_FRAME
        if mode == "realtime":
            return cls.REALTIME
        raise UsageError(f"source.mode: expected auto, every-frame or realtime, got {mode!r}")
