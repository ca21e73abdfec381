"""Which clip an event is in, decided when the event starts.

An event's records (``new``, ``update``, ``end``; the events log, MQTT,
``/api/events``) name its clip, so the name must be known when the events
stage raises ``new``, long before the clip is written. The events stage
asks the run's :class:`ClipPlanner` (one per run, shared through the build
context) at that moment, on the inference thread:

* :meth:`ClipPlanner.open` when an event starts: it joins the current clip
  when that clip is still recording (an event of it is open, or the new
  event is raised before the clip's post-roll has run out) and is younger
  than ``max_clip_s``; else a new clip starts ``pre_capture_s`` before the
  event's start. The file is created there and then (exclusively, named by
  the clip's start time in UTC: ``2026-11-29T14-02-05Z.mp4``), so the name
  an event carries is always the file's.
* :meth:`ClipPlanner.close` when an event ends: the clip then runs until
  ``post_capture_s`` after the last of its events ended.

Times are on the analysis clock (the events stage's: media time when a
file is replayed every frame, capture time otherwise), in seconds. The
clips sink reads the plan (:meth:`window`) when the events reach it. Since
a join is decided by the time the ``new`` is raised, and the sink sees
that event before any frame after it, a clip the sink has ended never gets
another event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camera_app.recording.files import Naming, OutputFile

log = logging.getLogger(__name__)

CLIP_SUFFIX = ".mp4"
MAX_PLANS = 256
"""Plans kept for the sink (finished ones are released by it; the oldest
finished ones go first beyond this, when no sink reads them)."""


@dataclass(frozen=True, slots=True)
class ClipWindow:
    """What a clip should cover, on the analysis clock (seconds)."""

    start_s: float
    """``pre_capture_s`` before its first event's start."""
    first_event_s: float
    """Its first event's start: the clip must not begin after it."""
    until_s: float | None
    """``post_capture_s`` after its last event ended; None while one is open."""


@dataclass(slots=True)
class _Plan:
    path: str
    start_s: float
    first_event_s: float
    opened_s: float
    open_events: set[str] = field(default_factory=set)
    until_s: float = float("-inf")
    file: OutputFile | None = None
    released: bool = False

    def window(self) -> ClipWindow:
        until = None if self.open_events else self.until_s
        return ClipWindow(self.start_s, self.first_event_s, until)


class ClipPlanner:
    """Assigns events to clips (see the module doc); thread-safe."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        pre_capture_s: float = 5.0,
        post_capture_s: float = 5.0,
        max_clip_s: float = 600.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.pre_capture_s = pre_capture_s
        self.post_capture_s = post_capture_s
        self.max_clip_s = max_clip_s
        self._wall_clock = wall_clock
        self._naming = Naming.timed(self.directory, CLIP_SUFFIX)
        self._lock = threading.Lock()
        self._plans: OrderedDict[str, _Plan] = OrderedDict()
        self._events: dict[str, _Plan] = {}
        self._current: _Plan | None = None
        self._failure_reported = False

    # -- the events stage (inference thread) ---------------------------------
    def open(self, event_id: str, start_s: float, now_s: float) -> str:
        """The clip of the event ``event_id`` that started at ``start_s`` and
        is raised at ``now_s``; returns its path."""
        with self._lock:
            plan = self._current
            if plan is None or not self._joinable(plan, now_s):
                if plan is not None and plan.released:
                    self._plans.pop(plan.path, None)
                plan = self._new_plan(start_s, now_s)
                self._current = plan
            plan.open_events.add(event_id)
            self._events[event_id] = plan
            return plan.path

    def close(self, event_id: str, end_s: float) -> None:
        """The event ended (last seen at ``end_s``)."""
        with self._lock:
            plan = self._events.pop(event_id, None)
            if plan is None:
                return
            plan.open_events.discard(event_id)
            plan.until_s = max(plan.until_s, end_s + self.post_capture_s)

    def _joinable(self, plan: _Plan, now_s: float) -> bool:
        if now_s - plan.start_s >= self.max_clip_s:
            return False
        return bool(plan.open_events) or now_s <= plan.until_s

    def _new_plan(self, start_s: float, now_s: float) -> _Plan:
        clip_start_s = start_s - self.pre_capture_s
        wall_s = self._wall_clock() - max(0.0, now_s - clip_start_s)
        out: OutputFile | None = None
        try:
            out = OutputFile.create(self._naming.candidates(wall_s))
            path = str(out.path)
        except OSError as e:  # the sink tries again, and reports it
            free = (
                str(c)
                for c in self._naming.candidates(wall_s)
                if str(c) not in self._plans and not os.path.lexists(c)
            )
            path = next(free, str(next(self._naming.candidates(wall_s))))
            if not self._failure_reported:
                self._failure_reported = True
                log.warning("clips: cannot create %s yet (%s)", path, e.strerror or e)
        plan = _Plan(path, clip_start_s, start_s, now_s, file=out)
        self._plans[path] = plan
        self._prune()
        return plan

    def _prune(self) -> None:
        excess = len(self._plans) - MAX_PLANS
        for path in [p for p, plan in self._plans.items() if not plan.open_events][: max(0, excess)]:  # fmt: skip
            plan = self._plans.pop(path)
            if plan.file is not None:  # reserved, never taken by a sink
                plan.file.remove()

    # -- the clips sink (its own thread) -------------------------------------
    def window(self, path: str) -> ClipWindow | None:
        with self._lock:
            plan = self._plans.get(path)
            return plan.window() if plan is not None else None

    def take_file(self, path: str) -> OutputFile | None:
        """The file created for the clip (once; None if it could not be created)."""
        with self._lock:
            plan = self._plans.get(path)
            if plan is None:
                return None
            out, plan.file = plan.file, None
            return out

    def release(self, path: str) -> None:
        """The sink finished the clip: forget it (when no event is open in it)."""
        with self._lock:
            plan = self._plans.get(path)
            if plan is None or plan.open_events:
                return
            plan.released = True
            if plan is not self._current:  # the current one may still be joined
                del self._plans[path]

    def reserved_paths(self) -> list[Path]:
        """Files of clips not finished yet (never deleted by retention)."""
        with self._lock:
            return [Path(p) for p in self._plans]

    def discard_unused(self) -> None:
        """Remove the files created for clips that were never written (shutdown)."""
        with self._lock:
            for plan in self._plans.values():
                if plan.file is not None:
                    plan.file.remove()
                    plan.file = None
