"""Zones: named polygons and which tracked objects are in them (``[[zones]]``).

An object is in a zone when the bottom centre of its box (where it stands)
is inside the polygon, after ``inertia`` frames in a row inside (and it
leaves after ``inertia`` frames in a row outside, so a box jittering on the
border neither enters nor leaves). With ``loitering_time_s`` it must also
have stayed inside that long before it counts (Frigate's meaning). Only
confirmed tracks (``tracker_id >= 0``) have zones; a zone's ``objects``
limits it to those labels.

Output, on every inferred frame:

* ``FrameResult.zone_counts``: ``{zone: {label: n}}``, the true-positive
  objects in each zone now; a track missed on a frame still counts while the
  tracker keeps it (``track_expires_s``). Labels listed in ``objects``, or
  seen in the zone before, stay at 0 rather than vanish, so a retained MQTT
  count goes back to 0;
* ``Detections.data["zones"]``: per detection, an object array of tuples
  of the zone names it is in (in config order; ``()`` for none).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from camera_app.analysis.base import BaseProcessor, analysis_time_s
from camera_app.analysis.geometry import bottom_center, points_in_polygon, polygon_pixels
from camera_app.errors import ConfigError
from camera_app.results import FrameResult
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
"""Zone and line names: they become MQTT topic levels and file-name parts."""
FORGET_AFTER_S = 60.0
"""State of a track not seen for this long is dropped (the tracker has ended it)."""


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """[[zones]] a named polygon."""

    name: str = opt("", "zone name (letters, digits, _ . -), unique")
    points: tuple[tuple[float, float], ...] = opt(
        (),
        "polygon vertices [[x, y], ...]: fractions of the frame (all in 0-1) or pixels",
        ge=0,
    )
    inertia: int = opt(3, "frames in a row inside before an object enters (and outside before it leaves)", ge=1, le=1000)  # fmt: skip
    objects: tuple[str, ...] = opt((), "labels this zone counts; empty: every tracked label")
    loitering_time_s: float = opt(
        0.0, "seconds an object must stay inside before it counts; 0: at once", ge=0, le=86400
    )

    def validate(self) -> None:
        check_name(self.name, "name")
        if len(self.points) < 3:
            raise ConfigError(
                f"points: expected at least 3 [x, y] vertices, got {len(self.points)}"
            )
        if any(not label for label in self.objects):
            raise ConfigError("objects: expected label names, got an empty string")


CONFIG = tuple[ZoneConfig, ...]


def validate(config: tuple[ZoneConfig, ...]) -> None:
    """Checks across the ``[[zones]]`` entries (each one checks itself)."""
    check_unique([z.name for z in config], "zones")


def uses_tracks(config: tuple[ZoneConfig, ...]) -> bool:
    return bool(config)


def build(config: tuple[ZoneConfig, ...], ctx: BuildContext) -> ZonesProcessor | None:
    return ZonesProcessor(config) if config else None


def describe(config: tuple[ZoneConfig, ...]) -> str | None:
    return "zones " + ", ".join(z.name for z in config) if config else None


def check_name(name: str, key: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"{key}: expected a name of letters, digits, _ . - (at most 64), got {name!r}"
        )


def check_unique(names: list[str], section: str) -> None:
    """Names must be unique across ``[[zones]]`` (or ``[[lines]]``)."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(f"{section}[{i}].name: {name!r} is already used by another entry")
        seen.add(name)


def label_names(result: FrameResult) -> list[str]:
    """The label of every detection (the class id as text when unnamed)."""
    labels = result.labels
    out = []
    for cid in result.detections.class_id:
        name = labels.name(int(cid)) if labels is not None else None
        out.append(name or str(int(cid)))
    return out


def true_positive_mask(result: FrameResult) -> np.ndarray:
    """Confirmed tracks that are true positives (every confirmed track when
    no filter published ``true_positive``)."""
    det = result.detections
    if det.tracker_id is None:
        return np.zeros(len(det), bool)
    confirmed: np.ndarray = det.tracker_id >= 0
    tp = det.data.get("true_positive")
    if tp is not None:
        confirmed = confirmed & np.asarray(tp, bool)
    return confirmed


def object_column(values: list[Any]) -> np.ndarray:
    """An object array holding ``values`` as they are (tuples stay tuples)."""
    col = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        col[i] = v
    return col


@dataclass(slots=True)
class _Presence:
    """One track in one zone."""

    inside_run: int = 0
    outside_run: int = 0
    inside_since_s: float | None = None
    present: bool = False

    def step(self, inside: bool, now_s: float, inertia: int, loiter_s: float) -> bool:
        if inside:
            self.outside_run = 0
            self.inside_run += 1
            if self.inside_since_s is None:
                self.inside_since_s = now_s
            if not self.present and self.inside_run >= inertia:
                self.present = now_s - self.inside_since_s >= loiter_s - 1e-6
        else:
            self.inside_run = 0
            self.outside_run += 1
            if not self.present or self.outside_run >= inertia:
                self.present = False
                self.inside_since_s = None
        return self.present


@dataclass(slots=True)
class _Track:
    zones: dict[str, _Presence] = field(default_factory=dict)
    last_seen_s: float = 0.0
    label: str = ""
    counted: bool = False
    """A true positive when last seen."""
    present: tuple[str, ...] = ()
    """The zones it was in when last seen."""
    expires_s: float = 0.0
    """Until when it counts without being seen (the tracker keeps it that long)."""


class ZonesProcessor(BaseProcessor):
    """Zone membership and counts for tracked objects (see the module doc).

    A track missing from a frame still counts in the zones it was in while
    the tracker keeps it (``data["track_expires_s"]``, else for ``hold_s``),
    so a missed detection does not make the counts flicker.
    """

    name = "zones"

    def __init__(self, zones: Sequence[ZoneConfig], hold_s: float = 0.0) -> None:
        self.zones = tuple(zones)
        self.hold_s = hold_s
        check_unique([z.name for z in self.zones], "zones")
        self.zone_names = tuple(z.name for z in self.zones)
        self._polygons: dict[tuple[int, int], list[np.ndarray]] = {}
        self._tracks: dict[int, _Track] = {}
        self._seen_labels: dict[str, set[str]] = {z.name: set(z.objects) for z in self.zones}

    def polygons(self, size_wh: tuple[int, int]) -> list[np.ndarray]:
        """Each zone's polygon in pixels of a frame of ``size_wh``."""
        polys = self._polygons.get(size_wh)
        if polys is None:
            polys = [polygon_pixels(z.points, size_wh) for z in self.zones]
            self._polygons[size_wh] = polys
        return polys

    def process(self, result: FrameResult) -> FrameResult:
        if not result.inferred:
            return result
        det = result.detections
        now = analysis_time_s(result, self.context is not None and self.context.every_frame)
        labels = label_names(result)
        counted = true_positive_mask(result)
        feet = bottom_center(det.xyxy)
        polys = self.polygons(result.frame.size_wh)
        inside = np.stack(
            [points_in_polygon(feet, poly) for poly in polys] or [np.zeros(len(det), bool)],
            axis=1,
        )
        tids = det.tracker_id if det.tracker_id is not None else np.full(len(det), -1)
        expires = det.data.get("track_expires_s")
        counts: dict[str, dict[str, int]] = {
            z.name: dict.fromkeys(sorted(self._seen_labels[z.name]), 0) for z in self.zones
        }
        members: list[tuple[str, ...]] = []
        for i in range(len(det)):
            tid = int(tids[i])
            if tid < 0:
                members.append(())
                continue
            track = self._tracks.get(tid)
            if track is None:
                track = self._tracks[tid] = _Track()
            in_zones = []
            for z, zone in enumerate(self.zones):
                if zone.objects and labels[i] not in zone.objects:
                    continue
                presence = track.zones.get(zone.name)
                if presence is None:
                    presence = track.zones[zone.name] = _Presence()
                if presence.step(bool(inside[i, z]), now, zone.inertia, zone.loitering_time_s):
                    in_zones.append(zone.name)
            track.last_seen_s, track.label, track.counted = now, labels[i], bool(counted[i])
            track.expires_s = float(expires[i]) if expires is not None else now + self.hold_s
            track.present = tuple(in_zones)
            members.append(track.present)
        for track in self._tracks.values():
            if track.counted and (track.last_seen_s == now or now <= track.expires_s + 1e-6):
                for zone_name in track.present:
                    self._seen_labels[zone_name].add(track.label)
                    per_label = counts[zone_name]
                    per_label[track.label] = per_label.get(track.label, 0) + 1
        self._forget(now)
        return result.evolve(
            detections=det.with_columns(zones=object_column(members)),
            zone_counts={**result.zone_counts, **counts},
        )

    def _forget(self, now_s: float) -> None:
        stale = [t for t, s in self._tracks.items() if now_s - s.last_seen_s > FORGET_AFTER_S]
        for t in stale:
            del self._tracks[t]

    def close(self) -> None:
        self._tracks.clear()
