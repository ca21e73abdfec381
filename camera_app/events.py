"""Events: what happened, as typed records every sink can read.

Two kinds travel beside the per-frame results, on each sink's queue in
order and never dropped (``Sink.on_event``):

* :class:`SourceEvent`: the camera went down, came back, the run ended;
* :class:`ObjectEvent`: a tracked object became a true positive (``new``),
  changed (``update``: a zone entered or left, a line crossed, stationary or
  moving again, a better snapshot) or went away (``end``). Every ``new`` gets
  its ``end``, at the latest when the run stops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from camera_app.frames import Frame

SourceEventKind = Literal["source_down", "source_up", "end"]
ObjectEventType = Literal["new", "update", "end"]


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """Something sinks may want to show: the camera went down, came back..."""

    kind: SourceEventKind
    message: str = ""
    timestamp_ns: int = 0


@dataclass(frozen=True, slots=True)
class LineCrossing:
    line: str
    direction: Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class SnapshotSource:
    """The frame an event's best snapshot comes from (not serialised).

    It holds a reference to the frame's pixels; the events stage keeps at
    most one per open event, so memory stays bounded by the tracked objects.
    """

    frame: Frame
    xyxy: tuple[float, float, float, float]
    score: float


def iso_utc(epoch_ns: int | None) -> str | None:
    """ISO-8601 UTC with milliseconds, or None."""
    if epoch_ns is None:
        return None
    t = dt.datetime.fromtimestamp(epoch_ns / 1e9, tz=dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One event about one tracked object (one line of ``--events``)."""

    type: ObjectEventType
    id: str
    """Stable for the object's life: ``<start time>-<tracker id>``."""
    label: str
    score: float
    """The best score so far."""
    top_score: float
    box_xyxy: tuple[float, float, float, float]
    """The latest box, frame pixels."""
    frame_id: int
    start_epoch_ns: int
    end_epoch_ns: int | None = None
    start_media_ms: float | None = None
    end_media_ms: float | None = None
    tracker_id: int = -1
    zones: tuple[str, ...] = ()
    """Zones the object is in now."""
    entered_zones: tuple[str, ...] = ()
    """Every zone it has been in, in order of entry."""
    crossed_lines: tuple[LineCrossing, ...] = ()
    stationary: bool = False
    snapshot: str | None = None
    """Path of the best snapshot (written by the snapshots sink)."""
    clip: str | None = None
    changes: tuple[str, ...] = ()
    """Why an ``update`` was sent: ``zone``, ``line``, ``stationary``, ``snapshot``..."""
    timestamp_ns: int = 0
    """Monotonic time of the frame that raised it."""
    snapshot_source: SnapshotSource | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "label": self.label,
            "score": round(self.score, 4),
            "top_score": round(self.top_score, 4),
            "box": [round(float(v), 1) for v in self.box_xyxy],
            "start_time": iso_utc(self.start_epoch_ns),
            "end_time": iso_utc(self.end_epoch_ns),
        }
        if self.start_media_ms is not None:
            out["start_media_ms"] = round(self.start_media_ms, 1)
            out["end_media_ms"] = None if self.end_media_ms is None else round(self.end_media_ms, 1)
        out.update(
            {
                "frame_id": self.frame_id,
                "tracker_id": self.tracker_id,
                "zones": list(self.zones),
                "entered_zones": list(self.entered_zones),
                "crossed_lines": [
                    {"line": c.line, "direction": c.direction} for c in self.crossed_lines
                ],
                "stationary": self.stationary,
                "snapshot": self.snapshot,
                "clip": self.clip,
            }
        )
        if self.changes:
            out["changes"] = list(self.changes)
        return out


Event = SourceEvent | ObjectEvent


def box_tuple(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in xyxy[:4])
    return (x1, y1, x2, y2)
