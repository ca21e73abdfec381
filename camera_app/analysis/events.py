"""Events: one per tracked object that is a true positive (``[events]``).

``new`` when a confirmed track becomes a true positive; ``update`` when it
enters or leaves a zone, crosses a line, becomes stationary or moves again,
or (at most every ``snapshot_interval_s``, and not while stationary) when a
better snapshot was seen; ``end`` when the track is gone or the run stops:
``close()`` ends every open event. "Gone" is the tracker's own verdict when
it publishes ``track_expires_s`` (so an event never ends while its track
lives on), else ``lost_after_s`` without a sighting.

The event starts when its track was first matched (``track_age_s`` before
it was first seen confirmed) and ends when it was last seen. Its id is
``<start>-<tracker id>``: the start in seconds of media time when replaying
a file every frame (so two replays give the same ids), in epoch seconds
otherwise. Wall-clock times come from the frame's monotonic capture time
plus one offset taken when the stage is bound, so they are consistent
within a run.

Snapshots: the best frame of the object (a box not touching the frame's
edge beats one that does, then the higher score) is kept as a
:class:`SnapshotSource` (one per tracked object) and handed out on ``new``,
on an ``update`` with ``snapshot`` in ``changes`` and on ``end``; the
snapshot's path, ``<snapshots dir>/<id>.jpg``, is decided when the event
starts (a name taken by an earlier run gets ``-1``, ``-2``...).

Reads the columns earlier stages publish, when present: ``true_positive``,
``track_score``, ``stationary``, ``track_age_s`` and ``track_expires_s``
(tracker), ``zones`` and ``crossings`` (zones and lines).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from camera_app.analysis.base import BaseProcessor, ProcessorContext, analysis_time_s
from camera_app.analysis.zones import label_names, true_positive_mask
from camera_app.components import tracking_wanted
from camera_app.events import LineCrossing, ObjectEvent, ObjectEventType, SnapshotSource, box_tuple
from camera_app.frames import Frame
from camera_app.results import FrameResult
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.clips.planner import ClipPlanner
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

EDGE_PX = 2.0
"""A box within this many pixels of the frame's border touches the edge."""
LOST_AFTER_S = 2.0
"""Default for ``lost_after_s``: keep it at least the tracker's ``max_disappeared_s``."""


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """[events] one event per tracked object: new, update, end."""

    enabled: bool = opt(True, "raise object events (false: track and count only)")
    path: str | None = opt(None, 'events log (JSON Lines, appended), or "-" for stdout')
    snapshot_interval_s: float = opt(
        5.0, "at most one update for a better snapshot per event this often", ge=0, le=3600
    )
    max_bytes: int = opt(
        50_000_000, "events log size at which it is rotated to <path>.1", ge=10_000, le=10**12
    )
    keep: int = opt(5, "rotated events logs kept (<path>.1 ... <path>.N)", ge=1, le=1000)


CONFIG = EventsConfig
"""Shared with :mod:`camera_app.sinks.events_log` (``path``, ``max_bytes``, ``keep``)."""


def build(config: EventsConfig, ctx: BuildContext) -> EventsProcessor | None:
    """On when ``enabled`` and the tracker runs; snapshot paths from
    ``[snapshots] dir``, "gone" from ``[tracker] max_disappeared_s``."""
    tracker = ctx.section_or("tracker")
    if not config.enabled or not tracking_wanted(ctx.config):
        return None
    snapshots = ctx.section_or("snapshots")
    lost = getattr(tracker, "max_disappeared_s", LOST_AFTER_S)
    return EventsProcessor(
        config, getattr(snapshots, "dir", None), lost_after_s=lost, clips=ctx.clips
    )


@dataclass(slots=True)
class _Object:
    """What the events stage knows of one confirmed track."""

    tracker_id: int
    label: str
    start_s: float
    """Analysis time of the first match."""
    start_epoch_ns: int
    start_media_ms: float | None
    last_s: float
    last_epoch_ns: int
    last_media_ms: float | None
    last_frame_id: int
    box: tuple[float, float, float, float]
    expires_s: float = 0.0
    """Analysis time after which the track is gone if not seen again."""
    score: float = 0.0
    top_score: float = 0.0
    zones: tuple[str, ...] = ()
    entered: list[str] = field(default_factory=list)
    crossed: list[LineCrossing] = field(default_factory=list)
    stationary: bool = False
    best: SnapshotSource | None = None
    best_key: tuple[bool, float] = (False, -1.0)
    better_snapshot: bool = False
    """A better snapshot than the one last handed out."""
    snapshot_sent_s: float = 0.0
    event_id: str | None = None
    snapshot: str | None = None
    clip: str | None = None


def touches_edge(xyxy: tuple[float, float, float, float], size_wh: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = xyxy
    w, h = size_wh
    return x1 <= EDGE_PX or y1 <= EDGE_PX or x2 >= w - 1 - EDGE_PX or y2 >= h - 1 - EDGE_PX


class EventsProcessor(BaseProcessor):
    """Object events from tracked detections (see the module doc)."""

    name = "events"

    def __init__(
        self,
        config: EventsConfig | None = None,
        snapshots_dir: str | None = None,
        lost_after_s: float = LOST_AFTER_S,
        clips: ClipPlanner | None = None,
    ) -> None:
        self.config = config or EventsConfig()
        self.clips = clips
        self.snapshots_dir = snapshots_dir
        self.lost_after_s = lost_after_s
        self._objects: dict[int, _Object] = {}
        self._epoch_offset_ns = time.time_ns() - time.monotonic_ns()
        self._now_ns = 0

    def bind(self, context: ProcessorContext) -> None:
        super().bind(context)
        self._epoch_offset_ns = time.time_ns() - time.monotonic_ns()

    @property
    def open_events(self) -> int:
        return sum(1 for o in self._objects.values() if o.event_id is not None)

    def process(self, result: FrameResult) -> FrameResult:
        if not self.config.enabled or not result.inferred:
            return result
        det = result.detections
        frame = result.frame
        replay = self.context is not None and self.context.every_frame
        now = analysis_time_s(result, replay)
        self._now_ns = frame.timestamp_ns
        tids = det.tracker_id
        if tids is None:
            return result
        labels = label_names(result)
        tp = true_positive_mask(result)
        data = det.data
        for i in range(len(det)):
            tid = int(tids[i])
            if tid < 0:
                continue
            box = box_tuple(det.xyxy[i])
            obj = self._objects.get(tid)
            if obj is None:
                obj = self._objects[tid] = self._new_object(
                    tid, labels[i], frame, now, box, data, i
                )
            obj.last_s, obj.last_epoch_ns = now, self._epoch(frame)
            if "track_expires_s" in data:
                obj.expires_s = float(data["track_expires_s"][i])
            else:
                obj.expires_s = now + self.lost_after_s
            obj.last_media_ms, obj.last_frame_id, obj.box = frame.media_ms, frame.frame_id, box
            score = float(det.confidence[i])
            obj.score = max(obj.score, score)
            track_score = data["track_score"][i] if "track_score" in data else score
            obj.top_score = max(obj.top_score, float(track_score))
            changes = self._changes(obj, data, i)
            if self.snapshots_dir is not None:  # else no frame is held
                self._consider_snapshot(obj, frame, box, score)
            if obj.event_id is None:
                if tp[i]:
                    self._open(obj, replay)
            else:
                if (
                    obj.better_snapshot
                    and self.snapshots_dir is not None
                    and not obj.stationary
                    and now - obj.snapshot_sent_s >= self.config.snapshot_interval_s
                ):
                    changes.append("snapshot")
                if changes:
                    self._send("update", obj, changes, now)
        # the tracker dropped these on this frame (a margin against rounding:
        # ending a frame late is harmless, a frame early would split an event)
        for tid in [t for t, o in self._objects.items() if now > o.expires_s + 1e-6]:
            self._end(self._objects.pop(tid))
        return result

    def _epoch(self, frame: Frame) -> int:
        return frame.timestamp_ns + self._epoch_offset_ns

    def _new_object(
        self,
        tid: int,
        label: str,
        frame: Frame,
        now: float,
        box: tuple[float, float, float, float],
        data: Mapping[str, np.ndarray],
        i: int,
    ) -> _Object:
        """The object starts when its track was first matched (``track_age_s``
        ago), before it was confirmed."""
        age = round(float(data["track_age_s"][i]), 6) if "track_age_s" in data else 0.0
        media = None if frame.media_ms is None else frame.media_ms - age * 1000.0
        epoch = self._epoch(frame)
        return _Object(
            tid, label, now - age, epoch - round(age * 1e9), media,
            now, epoch, frame.media_ms, frame.frame_id, box, expires_s=now + self.lost_after_s,
        )  # fmt: skip

    @staticmethod
    def _changes(obj: _Object, data: Mapping[str, np.ndarray], i: int) -> list[str]:
        changes = []
        zones_col = data.get("zones")
        if zones_col is not None:
            zones = tuple(zones_col[i])
            if zones != obj.zones:
                obj.zones = zones
                obj.entered.extend(z for z in zones if z not in obj.entered)
                changes.append("zone")
        crossings_col = data.get("crossings")
        if crossings_col is not None and crossings_col[i]:
            obj.crossed.extend(LineCrossing(line, d) for line, d in crossings_col[i])
            changes.append("line")
        stationary_col = data.get("stationary")
        if stationary_col is not None and bool(stationary_col[i]) != obj.stationary:
            obj.stationary = bool(stationary_col[i])
            changes.append("stationary")
        return changes

    @staticmethod
    def _consider_snapshot(
        obj: _Object, frame: Frame, box: tuple[float, float, float, float], score: float
    ) -> None:
        key = (not touches_edge(box, frame.size_wh), score)
        if key > obj.best_key:
            obj.best_key = key
            obj.best = SnapshotSource(frame, box, score)
            obj.better_snapshot = True

    def _open(self, obj: _Object, replay: bool) -> None:
        if replay and obj.start_media_ms is not None:
            start = f"{obj.start_media_ms / 1000:.3f}"
        else:
            start = f"{obj.start_epoch_ns / 1e9:.3f}"
        obj.event_id = f"{start}-{obj.tracker_id}"
        if self.snapshots_dir is not None:
            obj.snapshot = free_snapshot_path(self.snapshots_dir, obj.event_id)
        if self.clips is not None:
            obj.clip = self.clips.open(obj.event_id, obj.start_s, obj.last_s)
        self._send("new", obj, [], obj.last_s)

    def _send(self, kind: ObjectEventType, obj: _Object, changes: list[str], now: float) -> None:
        assert obj.event_id is not None
        snapshot_source = None
        if self.snapshots_dir is not None and (
            kind != "update" or "snapshot" in changes or obj.better_snapshot
        ):
            snapshot_source = obj.best
            if kind == "update" and "snapshot" not in changes:
                changes.append("snapshot")  # carried along with another change, for free
            obj.better_snapshot = False
            obj.snapshot_sent_s = now
        ended = kind == "end"
        self.emit(
            ObjectEvent(
                type=kind,
                id=obj.event_id,
                label=obj.label,
                score=obj.score,
                top_score=obj.top_score,
                box_xyxy=obj.box,
                frame_id=obj.last_frame_id,
                start_epoch_ns=obj.start_epoch_ns,
                end_epoch_ns=obj.last_epoch_ns if ended else None,
                start_media_ms=obj.start_media_ms,
                end_media_ms=obj.last_media_ms if ended else None,
                tracker_id=obj.tracker_id,
                zones=() if ended else obj.zones,
                entered_zones=tuple(obj.entered),
                crossed_lines=tuple(obj.crossed),
                stationary=obj.stationary,
                snapshot=obj.snapshot,
                clip=obj.clip,
                changes=tuple(changes),
                timestamp_ns=self._now_ns,
                snapshot_source=snapshot_source,
            )
        )

    def _end(self, obj: _Object) -> None:
        if obj.event_id is not None:
            if self.clips is not None:
                self.clips.close(obj.event_id, obj.last_s)
            self._send("end", obj, [], obj.last_s)
        obj.best = None

    def close(self) -> None:
        """End every open event (the run stops): nothing is left dangling."""
        objects, self._objects = self._objects, {}
        for obj in sorted(objects.values(), key=lambda o: o.tracker_id):
            self._end(obj)


def free_snapshot_path(directory: str, event_id: str) -> str:
    """``<dir>/<id>.jpg``, or ``<id>-1.jpg``... when an earlier run left that name."""
    path = os.path.join(directory, f"{event_id}.jpg")
    n = 0
    while os.path.exists(path):
        n += 1
        path = os.path.join(directory, f"{event_id}-{n}.jpg")
    return path
