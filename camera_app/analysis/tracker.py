"""A ByteTrack-style multi-object tracker on a time axis (numpy only).

Each track is a constant-velocity Kalman filter on its box
(:mod:`~camera_app.analysis.kalman`). Every update:

1. all tracks are predicted to ``now_s`` (seconds, any monotonic clock);
2. high-score detections are matched to confirmed tracks (IoU >= ``match_iou``);
3. low-score detections are matched to the confirmed tracks still unmatched
   that were seen within ``low_match_within_s`` or on the previous update
   (IoU >= ``low_match_iou``): they keep a track alive through a dip in
   score, they never start one;
4. the high-score detections left are matched to tentative tracks
   (IoU >= ``tentative_iou`` of boxes grown with the time since the last
   update, as a new track has no velocity yet), and those still left start
   tentative tracks, unless they lie mostly inside a box just matched to a
   confirmed track of their class (``duplicate_overlap``: a second box on
   one object, as the SSD gives on a person turning away).

Matching is per class: a detection never joins a track of another class.
Pairs are assigned to maximise the summed IoU (``optimal``) or best first
(``greedy``); a track's IoU is discounted by 5% per second it went unseen
(at most 20%), so on a tie (an occluder passing exactly over it) the track
seen last wins.
Time, not frames, decides: a tentative track is confirmed once it has
``min_hits`` matches within ``confirm_window_s`` (and dropped when it goes
unmatched for ``confirm_window_s``), a confirmed track is lost after
``max_disappeared_s`` without a match. So 30 fps and 3 fps with drops give
the same tracks. Ids are given at confirmation, 1, 2, 3... in order, so noise
that never gets confirmed uses no id.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from camera_app.analysis.kalman import BoxKalman
from camera_app.analysis.matching import Method, grown, iou_matrix, match, overlap_of_smaller

log = logging.getLogger(__name__)

_EPS_S = 1e-6
"""Slack on time comparisons (frame times are sums of floats)."""


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Tuning of :class:`Tracker` (the config is ``TrackerConfig``)."""

    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_iou: float = 0.3
    min_hits: int = 3
    confirm_window_s: float = 1.5
    max_disappeared_s: float = 2.0
    score_history: int = 10
    stationary_after_s: float = 10.0
    stationary_threshold: float = 0.1
    low_match_within_s: float = 0.5
    """Low-score detections only keep alive tracks matched this recently (or
    on the previous update, at low frame rates), not tracks already lost."""
    duplicate_overlap: float = 0.8
    tentative_buffer_per_s: float = 1.0
    """Tentative tracks have no velocity yet: for matching them, both boxes
    grow by this fraction of their size per second since the previous
    update (buffered IoU, C-BIoU), at most by half: 3% at 30 fps, 33% at 3
    fps, so a new walker is picked up at low frame rates too."""
    matching: Method = "optimal"
    accel_std: float = 1.5
    measure_std: float = 0.05


Box = tuple[float, float, float, float]


@dataclass(slots=True, eq=False)
class Track:
    """One tracked object. ``track_id`` is -1 until confirmed."""

    class_id: int
    first_seen_s: float
    last_seen_s: float
    xyxy: Box
    """The last matched detection box (frame pixels)."""
    threshold: float
    """Median score that makes it a true positive."""
    track_id: int = -1
    hits: deque[float] = field(default_factory=deque)
    """Times of the last ``min_hits`` high-score matches (for confirmation)."""
    scores: deque[float] = field(default_factory=deque)
    """The last ``score_history`` matched scores."""
    median_score: float = 0.0
    top_score: float = 0.0
    true_positive: bool = False
    stationary: bool = False
    anchor_xyxy: Box | None = None
    anchor_s: float = 0.0

    @property
    def confirmed(self) -> bool:
        return self.track_id >= 0


def _low_median(values: deque[float]) -> float:
    """The median; of an even count, the lower middle value (so a score
    "reaches" a threshold only when more than half of the history does)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0.0


@dataclass(frozen=True, slots=True)
class TrackerOutput:
    """What one update did with the N detections it was given."""

    track_index: np.ndarray
    """(N,) index into ``Tracker.tracks`` of each detection's track, -1: none."""
    tracks: list[Track]


class Tracker:
    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self.tracks: list[Track] = []
        self._kf = self._new_kf()
        self._now_s: float | None = None
        self._next_id = 1

    def _new_kf(self) -> BoxKalman:
        return BoxKalman(self.params.accel_std, self.params.measure_std)

    def reset(self) -> None:
        self.tracks = []
        self._kf = self._new_kf()
        self._now_s = None

    @property
    def active_count(self) -> int:
        """Confirmed tracks not yet lost."""
        return sum(1 for t in self.tracks if t.confirmed)

    def update(
        self,
        now_s: float,
        xyxy: np.ndarray,
        confidence: np.ndarray,
        class_id: np.ndarray,
        high: np.ndarray,
        threshold: np.ndarray | float = 0.7,
    ) -> TrackerOutput:
        """Associate one frame's detections; ``high`` (N,) bool marks those
        that may start tracks and confirm them, ``threshold`` the median
        score that makes a new track a true positive (per detection or one)."""
        p = self.params
        n = len(xyxy)
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(confidence, np.float64).reshape(-1)
        classes = np.asarray(class_id).reshape(-1)
        high = np.asarray(high, bool).reshape(-1)
        thresholds = np.broadcast_to(np.asarray(threshold, np.float64), (n,))
        prev_s = self._now_s
        if prev_s is not None and now_s < prev_s:
            log.info("tracker: time went back (%.3f s < %.3f s): starting afresh", now_s, prev_s)
            self.reset()
            prev_s = None
        self._kf.predict(0.0 if prev_s is None else now_s - prev_s)
        self._prune(now_s)
        self._now_s = now_s

        det_track = np.full(n, -1, np.intp)
        t_count = len(self.tracks)
        t_class = np.fromiter((t.class_id for t in self.tracks), np.int64, t_count)
        confirmed = np.fromiter((t.confirmed for t in self.tracks), bool, t_count)
        recent_s = now_s - p.low_match_within_s
        if prev_s is not None:
            recent_s = min(recent_s, prev_s)
        recent = np.fromiter((t.last_seen_s >= recent_s for t in self.tracks), bool, t_count)
        predicted = self._kf.boxes()
        iou = iou_matrix(predicted, boxes)
        if t_count:
            # a track unseen for a while has a less certain prediction
            missed_s = now_s - np.fromiter((t.last_seen_s for t in self.tracks), float, t_count)
            iou *= (1.0 - 0.05 * np.clip(missed_s, 0.0, 4.0))[:, None]
        other_class = t_class[:, None] != classes[None, :]
        iou[other_class] = 0.0
        t_free = np.ones(t_count, bool)
        for stage, (t_ok, d_ok, min_iou) in enumerate(
            (
                (confirmed, high, p.match_iou),
                (confirmed & recent, ~high, p.low_match_iou),
                (~confirmed, high, p.tentative_iou),
            )
        ):
            t_idx = np.nonzero(t_ok & t_free)[0]
            d_idx = np.nonzero(d_ok & (det_track < 0))[0]
            if not len(t_idx) or not len(d_idx):
                continue
            sub = iou[t_idx][:, d_idx]
            if stage == 2 and prev_s is not None:
                grow = min(0.5, p.tentative_buffer_per_s * (now_s - prev_s))
                sub = iou_matrix(grown(predicted[t_idx], grow), grown(boxes[d_idx], grow))
                sub[other_class[t_idx][:, d_idx]] = 0.0
            r, c = match(sub, min_iou, p.matching)
            det_track[d_idx[c]] = t_idx[r]
            t_free[t_idx[r]] = False

        matched = np.nonzero(det_track >= 0)[0]
        self._kf.update(det_track[matched], boxes[matched])
        box_list: list[Box] = [tuple(b) for b in boxes.tolist()]  # type: ignore[misc]
        score_list: list[float] = scores.tolist()
        high_list: list[bool] = high.tolist()
        for d, k in zip(matched.tolist(), det_track[matched].tolist(), strict=True):
            self._hit(self.tracks[k], now_s, box_list[d], score_list[d], high_list[d])
        new = np.nonzero(high & (det_track < 0))[0]
        if len(new) and len(matched):
            new = new[~self._duplicates(boxes, classes, new, det_track, confirmed)]
        for d in new.tolist():
            det_track[d] = len(self.tracks)
            track = Track(int(classes[d]), now_s, now_s, box_list[d], float(thresholds[d]))
            self.tracks.append(track)
            self._hit(track, now_s, box_list[d], score_list[d], True)
        self._kf.add(boxes[new])
        return TrackerOutput(det_track, self.tracks)

    def _duplicates(
        self,
        boxes: np.ndarray,
        classes: np.ndarray,
        new: np.ndarray,
        det_track: np.ndarray,
        confirmed: np.ndarray,
    ) -> np.ndarray:
        """Which ``new`` detections lie mostly (> ``duplicate_overlap`` of the
        smaller box) inside a box matched to a confirmed track of the same
        class on this frame: a second box on one object, not a new object."""
        owners = np.nonzero(det_track >= 0)[0]
        owners = owners[confirmed[det_track[owners]]]
        if not len(owners):
            return np.zeros(len(new), bool)
        inside = overlap_of_smaller(boxes[new], boxes[owners]) > self.params.duplicate_overlap
        same = classes[new][:, None] == classes[owners][None, :]
        dup: np.ndarray = (inside & same).any(axis=1)
        return dup

    def _hit(self, t: Track, now_s: float, box: Box, score: float, high: bool) -> None:
        p = self.params
        t.last_seen_s = now_s
        t.xyxy = box
        t.scores.append(score)
        if len(t.scores) > p.score_history:
            t.scores.popleft()
        t.median_score = _low_median(t.scores)
        t.top_score = max(t.top_score, score)
        if high:
            t.hits.append(now_s)
            if len(t.hits) > p.min_hits:
                t.hits.popleft()
        if not t.confirmed and len(t.hits) >= p.min_hits:
            if now_s - t.hits[-p.min_hits] <= p.confirm_window_s + _EPS_S:
                t.track_id = self._next_id
                self._next_id += 1
        if t.confirmed and not t.true_positive and len(t.scores) >= p.min_hits:
            t.true_positive = t.median_score >= t.threshold
        self._stationary(t, now_s, box)

    def _stationary(self, t: Track, now_s: float, box: Box) -> None:
        """Stationary once every box edge stayed within ``stationary_threshold``
        of the box size from an anchor box for ``stationary_after_s``."""
        a = t.anchor_xyxy
        if a is None:
            t.anchor_xyxy, t.anchor_s = box, now_s
            return
        frac = self.params.stationary_threshold
        tol_x = frac * max(a[2] - a[0], 1.0)
        tol_y = frac * max(a[3] - a[1], 1.0)
        if (
            abs(box[0] - a[0]) > tol_x
            or abs(box[2] - a[2]) > tol_x
            or abs(box[1] - a[1]) > tol_y
            or abs(box[3] - a[3]) > tol_y
        ):
            t.anchor_xyxy, t.anchor_s = box, now_s
            t.stationary = False
        elif now_s - t.anchor_s >= self.params.stationary_after_s - _EPS_S:
            t.stationary = True

    def _prune(self, now_s: float) -> None:
        """Forget tracks unmatched for too long: before matching, so a track
        gone longer than ``max_disappeared_s`` can never be matched again."""
        p = self.params
        keep = np.fromiter(
            (
                now_s - t.last_seen_s
                <= (p.max_disappeared_s if t.confirmed else p.confirm_window_s) + _EPS_S
                for t in self.tracks
            ),
            bool,
            len(self.tracks),
        )
        if keep.all():
            return
        for t, k in zip(self.tracks, keep, strict=True):
            if t.confirmed and not k:
                log.debug("track %d (class %d) lost", t.track_id, t.class_id)
        self.tracks = [t for t, k in zip(self.tracks, keep, strict=True) if k]
        self._kf.keep(keep)
