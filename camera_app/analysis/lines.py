"""Lines: named two-point lines and the tracked objects that cross them (``[[lines]]``).

Direction: looking at the picture, walk along the line from its first point
to its second; an object whose bottom centre goes from your left-hand side
to your right-hand side crossed **in**, the other way **out**. For a line
drawn left to right (``[[0, 0.5], [1, 0.5]]``) ``in`` is moving down the
picture (towards the camera, usually); swap the points to swap the
directions.

Each real crossing of a confirmed track counts once: the bottom centre must
be more than ``hysteresis`` (a fraction of the frame's smaller side) beyond
the line on the other side, and the move must pass through the segment
itself (not beyond its ends). A box jittering on the line does not count.

Output, on every inferred frame:

* ``FrameResult.line_counts``: ``{line: {label: (in, out)}}`` since the
  start, true positives only (a crossing made before the track became a
  true positive counts when it does);
* ``Detections.data["crossings"]``: per detection, a tuple of
  ``(line, direction)`` pairs crossed on this frame (usually ``()``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from camera_app.analysis.base import BaseProcessor, analysis_time_s
from camera_app.analysis.geometry import bottom_center, polygon_pixels
from camera_app.analysis.zones import (
    FORGET_AFTER_S,
    check_name,
    check_unique,
    label_names,
    object_column,
    true_positive_mask,
)
from camera_app.errors import ConfigError
from camera_app.results import FrameResult
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

Crossing = tuple[str, str]
"""``(line name, "in" | "out")``."""


@dataclass(frozen=True, slots=True)
class LineConfig:
    """[[lines]] a named line that counts crossings."""

    name: str = opt("", "line name (letters, digits, _ . -), unique")
    points: tuple[tuple[float, float], ...] = opt(
        (), "the two ends [[x1, y1], [x2, y2]]: fractions of the frame (all in 0-1) or pixels", ge=0
    )
    objects: tuple[str, ...] = opt((), "labels this line counts; empty: every tracked label")
    hysteresis: float = opt(
        0.02,
        "how far past the line (fraction of the frame's smaller side) a crossing must go",
        ge=0,
        le=0.5,
    )

    def validate(self) -> None:
        check_name(self.name, "name")
        if len(self.points) != 2:
            raise ConfigError(f"points: expected 2 [x, y] points, got {len(self.points)}")
        if self.points[0] == self.points[1]:
            raise ConfigError("points: expected two different points, got the same twice")
        if any(not label for label in self.objects):
            raise ConfigError("objects: expected label names, got an empty string")


CONFIG = tuple[LineConfig, ...]


def validate(config: tuple[LineConfig, ...]) -> None:
    """Checks across the ``[[lines]]`` entries (each one checks itself)."""
    check_unique([line.name for line in config], "lines")


def uses_tracks(config: tuple[LineConfig, ...]) -> bool:
    return bool(config)


def build(config: tuple[LineConfig, ...], ctx: BuildContext) -> LinesProcessor | None:
    return LinesProcessor(config) if config else None


def describe(config: tuple[LineConfig, ...]) -> str | None:
    return "lines " + ", ".join(line.name for line in config) if config else None


@dataclass(slots=True)
class _Side:
    """Where a track was last seen clearly on one side of one line."""

    side: int
    """+1 right of the line, -1 left."""
    d: float
    """Signed distance from the line, pixels."""
    t: float
    """Position along the segment: 0 at its first point, 1 at its second."""


@dataclass(slots=True)
class _Track:
    sides: dict[str, _Side] = field(default_factory=dict)
    pending: list[tuple[str, Crossing]] = field(default_factory=list)
    """Crossings (label, crossing) made before the track was a true positive."""
    last_seen_s: float = 0.0


class LinesProcessor(BaseProcessor):
    """Line crossings for tracked objects (see the module doc)."""

    name = "lines"

    def __init__(self, lines: Sequence[LineConfig]) -> None:
        self.lines = tuple(lines)
        check_unique([line.name for line in self.lines], "lines")
        self._ends: dict[tuple[int, int], np.ndarray] = {}
        self._tracks: dict[int, _Track] = {}
        self._totals: dict[str, dict[str, list[int]]] = {
            line.name: {label: [0, 0] for label in sorted(line.objects)} for line in self.lines
        }

    def ends(self, size_wh: tuple[int, int]) -> np.ndarray:
        """Every line's two points in pixels of a frame of ``size_wh``, (L, 2, 2)."""
        ends = self._ends.get(size_wh)
        if ends is None:
            ends = np.array(
                [polygon_pixels(line.points, size_wh) for line in self.lines], np.float64
            ).reshape(-1, 2, 2)
            self._ends[size_wh] = ends
        return ends

    def positions(
        self, feet: np.ndarray, size_wh: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Signed distance of each point from each line (pixels, + on the right)
        and its position along the segment (0 to 1 between the ends); (N, L) each."""
        ends = self.ends(size_wh)
        a, ab = ends[None, :, 0, :], (ends[:, 1, :] - ends[:, 0, :])[None]
        rel = feet[:, None, :] - a
        length2 = np.sum(ab * ab, axis=2)
        d = (ab[..., 0] * rel[..., 1] - ab[..., 1] * rel[..., 0]) / np.sqrt(length2)
        t = np.sum(rel * ab, axis=2) / length2
        return d, t

    def process(self, result: FrameResult) -> FrameResult:
        if not result.inferred:
            return result
        det = result.detections
        now = analysis_time_s(result, self.context is not None and self.context.every_frame)
        labels = label_names(result)
        counted = true_positive_mask(result)
        size_wh = result.frame.size_wh
        dist, along = self.positions(bottom_center(det.xyxy).astype(np.float64), size_wh)
        tids = det.tracker_id if det.tracker_id is not None else np.full(len(det), -1)
        crossed: list[tuple[Crossing, ...]] = []
        for i in range(len(det)):
            tid = int(tids[i])
            if tid < 0:
                crossed.append(())
                continue
            track = self._tracks.get(tid)
            if track is None:
                track = self._tracks[tid] = _Track()
            track.last_seen_s = now
            here: list[Crossing] = []
            for k, line in enumerate(self.lines):
                if line.objects and labels[i] not in line.objects:
                    continue
                margin = line.hysteresis * min(size_wh)
                crossing = self._step(track, line, float(dist[i, k]), float(along[i, k]), margin)
                if crossing is not None:
                    here.append(crossing)
                    track.pending.append((labels[i], crossing))
            if counted[i] and track.pending:
                for label, (line_name, direction) in track.pending:
                    per_label = self._totals[line_name].setdefault(label, [0, 0])
                    per_label[0 if direction == "in" else 1] += 1
                track.pending.clear()
            crossed.append(tuple(here))
        self._forget(now)
        counts = {
            name: {label: (v[0], v[1]) for label, v in per_label.items()}
            for name, per_label in self._totals.items()
        }
        return result.evolve(
            detections=det.with_columns(crossings=object_column(crossed)),
            line_counts={**result.line_counts, **counts},
        )

    @staticmethod
    def _step(
        track: _Track, line: LineConfig, d: float, t: float, margin: float
    ) -> Crossing | None:
        if abs(d) <= margin or d == 0.0:
            return None  # in the dead band: the side stays what it was
        side = 1 if d > 0 else -1
        state = track.sides.get(line.name)
        if state is None:
            track.sides[line.name] = _Side(side, d, t)
            return None
        crossing: Crossing | None = None
        if state.side != side:
            # where the move from the last clear side to here meets the line
            t_cross = state.t + state.d / (state.d - d) * (t - state.t)
            if 0.0 <= t_cross <= 1.0:
                crossing = (line.name, "in" if side > 0 else "out")
        state.side, state.d, state.t = side, d, t
        return crossing

    def _forget(self, now_s: float) -> None:
        stale = [t for t, s in self._tracks.items() if now_s - s.last_seen_s > FORGET_AFTER_S]
        for t in stale:
            del self._tracks[t]

    def close(self) -> None:
        self._tracks.clear()
