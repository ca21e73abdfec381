"""The tracking stage: stable ids, true positives and stationary objects.

:class:`TrackingProcessor` runs :class:`~camera_app.analysis.tracker.Tracker`
on every inferred frame, on the analysis clock (media time when replaying
every frame, so replays are deterministic; capture time otherwise). It
returns only the detections worth passing on: those matched to a track.
Confirmed tracks carry their id in ``tracker_id``; tentative ones (not yet
``min_hits`` matches) carry -1; low-score detections (below their label's
``min_score``) that matched no confirmed track are dropped, they were only
there to keep tracks alive.

Per detection it adds these ``Detections.data`` columns, so later stages
(zones, lines, events) need no reference to the tracker:

* ``track_score`` float32: median score over the track's last
  ``score_history`` matches, low-score ones included (Frigate's computed
  score; of an even count the lower middle value);
* ``track_top_score`` float32: best single score of the track;
* ``true_positive`` bool: the track is confirmed and its median score has
  reached its label's ``threshold`` at least once (it stays true);
* ``stationary`` bool: the box has stayed within ``stationary_threshold``
  of its size for ``stationary_after_s`` (false again once it moves);
* ``track_age_s`` float32: seconds since the track's first match;
* ``track_expires_s`` float64: analysis time at which the track is dropped
  if it is not seen again (last match + ``max_disappeared_s``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from camera_app.analysis.base import BaseProcessor, ProcessorContext, analysis_time_s
from camera_app.analysis.filters import ObjectsConfig, Rules
from camera_app.analysis.tracker import Tracker, TrackerParams
from camera_app.components import tracking_wanted
from camera_app.errors import ConfigError
from camera_app.results import FrameResult
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext
    from camera_app.config import AppConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """[tracker] ByteTrack-style tracking on a time axis."""

    enabled: bool | None = opt(
        None,
        "track objects (ids, true positives, stationary); absent: when events, "
        "snapshots, zones, lines or MQTT need them",
    )
    min_hits: int = opt(3, "matches within confirm_window_s that confirm a new track", ge=1, le=100)
    confirm_window_s: float = opt(
        1.5, "time a new track has to get min_hits matches", gt=0, le=3600
    )
    max_disappeared_s: float = opt(
        2.0, "a confirmed track unmatched this long is lost", gt=0, le=3600
    )
    match_iou: float = opt(0.2, "overlap a detection needs with a track's predicted box", gt=0, le=1)  # fmt: skip
    low_match_iou: float = opt(
        0.5, "overlap a low-score detection needs to keep a track alive", gt=0, le=1
    )
    score_history: int = opt(10, "recent scores the median score is taken over", ge=1, le=1000)
    stationary_after_s: float = opt(
        10.0, "a track whose box stayed put this long is stationary", gt=0, le=86400
    )
    stationary_threshold: float = opt(
        0.1, "how far a box edge may move, as a fraction of the box size, and still be put", ge=0, le=1
    )  # fmt: skip
    duplicate_overlap: float = opt(
        0.8,
        "a detection this much inside a tracked box of its label starts no new track; 1: off",
        gt=0,
        le=1,
    )
    matching: Literal["optimal", "greedy"] = opt(
        "optimal", "assignment: maximum total overlap, or best overlap first"
    )

    def validate(self) -> None:
        if self.low_match_iou < self.match_iou:
            raise ConfigError(f"low_match_iou: expected >= match_iou ({self.match_iou:g})")

    def params(self) -> TrackerParams:
        return TrackerParams(
            match_iou=self.match_iou,
            low_match_iou=self.low_match_iou,
            tentative_iou=max(self.match_iou, 0.3),
            min_hits=self.min_hits,
            confirm_window_s=self.confirm_window_s,
            max_disappeared_s=self.max_disappeared_s,
            score_history=self.score_history,
            stationary_after_s=self.stationary_after_s,
            stationary_threshold=self.stationary_threshold,
            duplicate_overlap=self.duplicate_overlap,
            matching=self.matching,
        )


class TrackingProcessor(BaseProcessor):
    """Adds ``tracker_id`` and the track columns (see the module doc)."""

    name = "tracker"

    def __init__(self, config: TrackerConfig, objects: ObjectsConfig | None = None) -> None:
        self.config = config
        self.rules = Rules(objects or ObjectsConfig())
        self.tracker = Tracker(config.params())
        self._every_frame = False

    def bind(self, context: ProcessorContext) -> None:
        super().bind(context)
        self._every_frame = context.every_frame

    @property
    def active_tracks(self) -> int:
        """Confirmed tracks not yet lost (the motion gate keeps inferring while > 0)."""
        return self.tracker.active_count

    @property
    def moving_tracks(self) -> int:
        """Confirmed tracks not lost and not stationary."""
        return sum(1 for t in self.tracker.tracks if t.confirmed and not t.stationary)

    def process(self, result: FrameResult) -> FrameResult:
        if not result.inferred:
            return result
        det = result.detections
        now_s = analysis_time_s(result, self._every_frame)
        rules = self.rules.per_detection(result)
        high = det.confidence >= np.array([r.min_score for r in rules], np.float32)
        threshold = np.array([r.threshold for r in rules], np.float64)
        out = self.tracker.update(now_s, det.xyxy, det.confidence, det.class_id, high, threshold)
        rows = np.nonzero(out.track_index >= 0)[0]
        tracks = [out.tracks[k] for k in out.track_index[rows]]
        max_gone = self.config.max_disappeared_s
        n = len(rows)
        kept = det[rows]
        return result.evolve(
            detections=kept.with_columns(
                tracker_id=np.fromiter((t.track_id for t in tracks), np.int64, n),
                track_score=np.fromiter((t.median_score for t in tracks), np.float32, n),
                track_top_score=np.fromiter((t.top_score for t in tracks), np.float32, n),
                true_positive=np.fromiter((t.true_positive for t in tracks), bool, n),
                stationary=np.fromiter((t.stationary for t in tracks), bool, n),
                track_age_s=np.fromiter((now_s - t.first_seen_s for t in tracks), np.float32, n),
                track_expires_s=np.fromiter((t.last_seen_s + max_gone for t in tracks), float, n),
            )
        )

    def close(self) -> None:
        self.tracker.reset()


CONFIG = TrackerConfig


def build(config: TrackerConfig, ctx: BuildContext) -> TrackingProcessor | None:
    if not tracking_wanted(ctx.config):
        return None
    return TrackingProcessor(config, ctx.section("objects"))


def decode_floor(config: TrackerConfig, app: AppConfig) -> float | None:
    """With tracking on, the decoders keep boxes down to the lowest score the
    tracker's second stage uses (``[objects] low_score``, per-label ``min_score``)."""
    if not tracking_wanted(app):
        return None
    objects: ObjectsConfig = app.section("objects")
    scores = [objects.low_score, objects.min_score]
    scores += [f.min_score for f in objects.filters.values() if f.min_score is not None]
    return min(scores)
