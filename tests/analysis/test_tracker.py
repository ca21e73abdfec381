"""The tracker on constructed trajectories with timestamps (no model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from camera_app.analysis.tracker import Tracker, TrackerParams

PERSON, CAR = 0, 2


@dataclass(frozen=True)
class Obj:
    """An object moving at constant velocity: centre in pixels at t=0, pixels/s."""

    name: str
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    w: float = 40.0
    h: float = 80.0
    class_id: int = PERSON
    score: float = 0.8
    visible: Callable[[float], bool] = lambda t: True
    score_at: Callable[[float], float] | None = None

    def box(self, t: float) -> list[float]:
        cx, cy = self.x + self.vx * t, self.y + self.vy * t
        return [cx - self.w / 2, cy - self.h / 2, cx + self.w / 2, cy + self.h / 2]


def times(fps: float, duration_s: float, drop_every: int = 0) -> list[float]:
    """Frame times; ``drop_every=k`` loses every k-th frame."""
    n = round(duration_s * fps)
    return [i / fps for i in range(n) if not (drop_every and i % drop_every == drop_every - 1)]


def run(
    objects: Sequence[Obj],
    frame_times: Sequence[float],
    params: TrackerParams | None = None,
    high: float = 0.5,
) -> tuple[Tracker, dict[str, list[tuple[float, int]]]]:
    """Feed the scene; per object name, (time, tracker id) of every frame it
    was matched in (-1: tentative). Objects unmatched in a frame are absent."""
    tracker = Tracker(params or TrackerParams())
    seen: dict[str, list[tuple[float, int]]] = {o.name: [] for o in objects}
    for t in frame_times:
        shown = [o for o in objects if o.visible(t)]
        xyxy = np.array([o.box(t) for o in shown], np.float32).reshape(-1, 4)
        scores = np.array([o.score_at(t) if o.score_at else o.score for o in shown], np.float32)
        classes = np.array([o.class_id for o in shown], np.int32)
        out = tracker.update(t, xyxy, scores, classes, scores >= high, 0.6)
        for o, k in zip(shown, out.track_index.tolist(), strict=True):
            if k >= 0:
                seen[o.name].append((t, out.tracks[k].track_id))
    return tracker, seen


def ids(track: list[tuple[float, int]], after_s: float = 0.0) -> set[int]:
    return {tid for t, tid in track if t >= after_s and tid >= 0}


def test_two_objects_moving_apart_keep_distinct_stable_ids() -> None:
    a = Obj("a", 300, 200, vx=-60)
    b = Obj("b", 330, 200, vx=+60)  # overlapping boxes at first
    _, seen = run([a, b], times(30, 4))
    assert len(ids(seen["a"])) == 1 and len(ids(seen["b"])) == 1
    assert ids(seen["a"]) != ids(seen["b"])
    # matched on every frame once confirmed (3 frames at 30 fps)
    assert len(seen["a"]) == len(seen["b"]) == 120


@pytest.mark.parametrize("fps", [30, 10, 3])
@pytest.mark.parametrize(
    ("dy", "occluded"),
    [(30, False), (0, False), (0, True)],
    ids=["offset", "head-on", "head-on-occluded"],
)
def test_crossing_objects_keep_their_ids(fps: float, dy: float, occluded: bool) -> None:
    # a walks right, b walks left; they meet at t=2 s
    a = Obj("a", 100, 200, vx=+60)
    b = Obj("b", 340, 200 + dy, vx=-60, visible=(lambda t: not 1.8 <= t <= 2.2) if occluded else (lambda t: True))  # fmt: skip
    _, seen = run([a, b], times(fps, 4))
    assert len(ids(seen["a"])) == 1, seen["a"]
    assert len(ids(seen["b"])) == 1, seen["b"]
    assert ids(seen["a"]) != ids(seen["b"])
    # and both are still tracked after the crossing
    assert max(t for t, _ in seen["a"]) > 3.5 and max(t for t, _ in seen["b"]) > 3.5


@pytest.mark.parametrize(
    ("unseen_s", "same_id"),
    [(1.0, True), (5 / 3, True), (2.0, True), (7 / 3, False), (5.0, False)],
)
@pytest.mark.parametrize("fps", [30, 3])
def test_a_track_survives_a_gap_up_to_max_disappeared(
    unseen_s: float, same_id: bool, fps: float
) -> None:
    # walks slowly; last seen at t=2, seen again at 2 + unseen_s on its path
    obj = Obj("a", 200, 200, vx=10, visible=lambda t: not 2.0 + 1e-6 < t < 2.0 + unseen_s - 1e-6)
    _, seen = run([obj], times(fps, 4.0 + unseen_s), TrackerParams(max_disappeared_s=2.0))
    gap = [t for t, _ in seen["a"] if 2.0 < t < 2.0 + unseen_s - 1e-6]
    assert gap == []
    before = ids([(t, i) for t, i in seen["a"] if t <= 2.0])
    after = ids([(t, i) for t, i in seen["a"] if t >= 2.0 + unseen_s - 1e-6])
    assert len(before) == 1 and len(after) == 1
    assert (before == after) is same_id


def scenario_ids(fps: float, drop_every: int) -> dict[str, list[int]]:
    """Per object, its distinct confirmed ids in order, for a scene with two
    crossings, an occlusion of 1 s, a departure and a late arrival."""
    objs = [
        Obj("a", 100, 200, vx=50),
        Obj("b", 500, 220, vx=-50),
        Obj("c", 300, 400, vy=-20, visible=lambda t: not 3.0 <= t < 4.0),
        Obj("d", 600, 100, visible=lambda t: t < 2.0),
        Obj("e", 50, 50, vx=20, visible=lambda t: t >= 5.0),
    ]
    _, seen = run(objs, times(fps, 8.0, drop_every))
    return {k: list(dict.fromkeys(i for _, i in v if i >= 0)) for k, v in seen.items()}


def test_same_tracks_at_30_fps_and_at_3_fps_with_drops() -> None:
    fast = scenario_ids(30, 0)
    slow = scenario_ids(3, 4)  # a quarter of the frames lost
    assert all(len(v) == 1 for v in fast.values()), fast
    assert all(len(v) == 1 for v in slow.values()), slow
    # ids are given in order of confirmation, so the same scene gives the same ids
    assert fast == slow


def test_low_score_boxes_keep_a_track_alive_but_never_start_one() -> None:
    # starts confident, then scores 0.3 for 5 s (longer than max_disappeared_s)
    dim = Obj("dim", 200, 200, vx=20, score_at=lambda t: 0.8 if t < 1.0 else 0.3)
    ghost = Obj("ghost", 500, 300, score=0.3)
    tracker, seen = run([dim, ghost], times(10, 6.0))
    assert len(ids(seen["dim"])) == 1
    assert max(t for t, _ in seen["dim"]) == pytest.approx(5.9)
    assert seen["ghost"] == []
    assert len(tracker.tracks) == 1


def test_a_low_score_box_must_overlap_well_to_keep_a_track() -> None:
    # after 1 s the box jumps 30 px sideways at a low score: IoU < low_match_iou
    def jumpy(t: float) -> list[float]:
        dx = 0.0 if t < 1.0 else 30.0
        return [180 + dx, 160, 220 + dx, 240]

    tracker = Tracker(TrackerParams(max_disappeared_s=1.0))
    matched_low = 0
    for t in times(10, 3.0):
        score = np.array([0.8 if t < 1.0 else 0.3], np.float32)
        out = tracker.update(t, np.array([jumpy(t)]), score, np.array([0]), score >= 0.5)
        matched_low += int(t >= 1.0 and out.track_index[0] >= 0)
    assert matched_low == 0
    assert tracker.tracks == []  # lost after 1 s without a match


@pytest.mark.parametrize(("min_hits", "fps"), [(1, 10), (3, 10), (5, 10), (3, 3), (3, 30)])
def test_confirmation_after_min_hits(min_hits: int, fps: float) -> None:
    _, seen = run([Obj("a", 200, 200, vx=15)], times(fps, 3.0), TrackerParams(min_hits=min_hits))
    first = [tid for _, tid in seen["a"]]
    assert first[: min_hits - 1] == [-1] * (min_hits - 1)
    assert first[min_hits - 1] == 1
    assert set(first[min_hits - 1 :]) == {1}


def test_sparse_hits_outside_the_window_never_confirm() -> None:
    # seen once every 0.9 s: 3 hits span 1.8 s > confirm_window_s (1.5)
    obj = Obj("a", 200, 200, visible=lambda t: round(t * 10) % 9 == 0)
    tracker, seen = run([obj], times(10, 5.0))
    assert seen["a"] and ids(seen["a"]) == set()
    assert tracker.active_count == 0


def test_a_person_never_joins_a_car_track() -> None:
    car = Obj("car", 200, 200, w=120, h=60, class_id=CAR)
    person = Obj("person", 205, 200, w=110, h=60, class_id=PERSON, visible=lambda t: t >= 1.0)
    tracker, seen = run([car, person], times(10, 3.0))
    assert len(ids(seen["car"])) == 1 and len(ids(seen["person"])) == 1
    assert ids(seen["car"]) != ids(seen["person"])
    assert sorted(t.class_id for t in tracker.tracks) == [PERSON, CAR]


def test_a_second_box_inside_a_tracked_object_starts_no_track() -> None:
    body = Obj("body", 200, 200, w=100, h=200)
    part = Obj("part", 210, 190, w=40, h=150, score=0.7, visible=lambda t: t >= 1.0)
    tracker, seen = run([body, part], times(10, 3.0))
    assert seen["part"] == []
    assert len(tracker.tracks) == 1
    _, seen = run([body, part], times(10, 3.0), TrackerParams(duplicate_overlap=1.0))
    assert len(ids(seen["part"])) == 1  # 1: the check is off


@pytest.mark.parametrize(
    ("score_at", "true_positive"),
    [
        (lambda t: 0.8, True),
        (lambda t: 0.55, False),
        (lambda t: 0.75 if t >= 2.0 else 0.52, True),  # becomes one later...
        (lambda t: 0.75 if t < 2.0 else 0.52, True),  # ...and stays one
        (lambda t: 0.9 if int(t * 10) % 3 == 0 else 0.52, False),  # peaks are not the median
    ],
)
def test_true_positive_by_median_score(
    score_at: Callable[[float], float], true_positive: bool
) -> None:
    tracker, _ = run([Obj("a", 200, 200, score_at=score_at)], times(10, 4.0))
    (track,) = tracker.tracks
    assert track.true_positive is true_positive
    assert track.top_score >= 0.75 if true_positive else track.median_score < 0.6


def test_stationary_after_some_seconds_and_moving_again() -> None:
    # still for 8 s (with 2 px of box jitter), then walks away
    def x(t: float) -> float:
        return 200 + (2.0 if int(t * 10) % 2 else 0.0) + (max(0.0, t - 8.0) * 40)

    tracker = Tracker(TrackerParams(stationary_after_s=5.0))
    states: list[tuple[float, bool]] = []
    for t in times(10, 11.0):
        box = np.array([[x(t) - 20, 160, x(t) + 20, 240]])
        out = tracker.update(t, box, np.array([0.8]), np.array([0]), np.array([True]))
        states.append((t, out.tracks[out.track_index[0]].stationary))
    became = min(t for t, s in states if s)
    moved = min(t for t, s in states if t > became and not s)
    assert became == pytest.approx(5.0)
    assert 8.0 < moved <= 8.2  # 10% of the 40 px width: 4 px, 0.1 s at 40 px/s
    assert not any(s for t, s in states if t > moved)


def test_time_going_back_starts_afresh() -> None:
    tracker, _ = run([Obj("a", 200, 200)], times(10, 1.0))
    assert tracker.active_count == 1
    box = np.array([[180, 160, 220, 240]], np.float32)
    tracker.update(0.0, box, np.array([0.8]), np.array([0]), np.array([True]))
    assert tracker.active_count == 0 and len(tracker.tracks) == 1


def test_no_detections_at_all() -> None:
    tracker = Tracker()
    out = tracker.update(0.0, np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros(0, bool))
    assert out.track_index.shape == (0,) and tracker.tracks == []
