"""Lines on constructed trajectories: directions, hysteresis, segment ends, two tracks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.lines import LineConfig, LinesProcessor
from camera_app.errors import ConfigError
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.validation import build

W, H = 200, 100
INFO = SourceInfo("test.mp4", "video", (W, H), fps=10.0)
IMAGE = np.zeros((H, W, 3), np.uint8)
NAMES = {0: "person", 2: "car"}


class Labels:
    def name(self, class_id: int) -> str | None:
        return NAMES.get(class_id)


def result(
    frame_id: int,
    objects: Sequence[tuple[int, tuple[float, float]]],
    *,
    class_id: int = 0,
    tp: Sequence[bool] | None = None,
) -> FrameResult:
    """Objects as (tracker id, bottom-centre point)."""
    boxes = [[x - 10, y - 40, x + 10, y] for _, (x, y) in objects]
    n = len(objects)
    det = Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(n, 0.8, np.float32),
        np.full(n, class_id, np.int32),
        tracker_id=np.array([t for t, _ in objects], np.int64),
        data={"true_positive": np.array(tp if tp is not None else [True] * n, bool)},
    )
    frame = Frame(IMAGE, frame_id, frame_id * 100_000_000, INFO, media_ms=frame_id * 100.0)
    return FrameResult(frame, "ssd", det, labels=Labels())


def run(proc: LinesProcessor, results: list[FrameResult]) -> list[FrameResult]:
    proc.bind(ProcessorContext(emit=lambda e: None, every_frame=True))
    return [proc.process(r) for r in results]


MIDDLE = LineConfig(name="door", points=((0.0, 0.5), (1.0, 0.5)))  # left to right, y = 50 px


def walk(tid: int, ys: Sequence[float], x: float = 100) -> list[FrameResult]:
    return [result(i, [(tid, (x, y))]) for i, y in enumerate(ys)]


def crossings(out: list[FrameResult]) -> list[tuple[tuple[str, str], ...]]:
    return [c for r in out for c in r.detections.data["crossings"] if c]


def test_moving_down_across_a_left_to_right_line_is_in_and_up_is_out() -> None:
    proc = LinesProcessor([MIDDLE])
    out = run(proc, walk(1, [20, 30, 40, 60, 70, 80]))
    assert crossings(out) == [(("door", "in"),)]
    assert out[-1].line_counts == {"door": {"person": (1, 0)}}
    out = run(proc, [result(10 + i, [(2, (100, y))]) for i, y in enumerate([80, 60, 40, 20])])
    assert crossings(out) == [(("door", "out"),)]
    assert out[-1].line_counts == {"door": {"person": (1, 1)}}


def test_swapping_the_points_swaps_the_directions() -> None:
    proc = LinesProcessor([LineConfig(name="door", points=((1.0, 0.5), (0.0, 0.5)))])
    out = run(proc, walk(1, [20, 40, 60, 80]))
    assert crossings(out) == [(("door", "out"),)]


def test_the_crossing_is_counted_on_the_frame_it_happens() -> None:
    proc = LinesProcessor([MIDDLE])
    out = run(proc, walk(1, [20, 30, 40, 60, 70]))
    assert [tuple(r.detections.data["crossings"][0]) for r in out] == [
        (), (), (), (("door", "in"),), (),
    ]  # fmt: skip


def test_jitter_on_the_line_does_not_count() -> None:
    proc = LinesProcessor([MIDDLE])  # hysteresis 0.02 * 100 px = 2 px
    out = run(proc, walk(1, [40, 49, 51, 49.5, 51.5, 48.5, 51, 49, 50, 40]))
    assert crossings(out) == []
    assert out[-1].line_counts == {"door": {}}


def test_a_track_jittering_across_counts_once_per_real_crossing() -> None:
    proc = LinesProcessor([MIDDLE])
    ys = [30, 45, 49, 53, 49, 55, 70, 80, 60, 51, 48, 52, 30]
    out = run(proc, walk(1, ys))
    assert crossings(out) == [(("door", "in"),), (("door", "out"),)]
    assert out[-1].line_counts["door"]["person"] == (1, 1)


def test_passing_beyond_the_end_of_the_segment_does_not_count() -> None:
    proc = LinesProcessor([LineConfig(name="gate", points=((0, 50), (100, 50)))])  # pixels
    assert crossings(run(proc, walk(1, [20, 40, 60, 80], x=150))) == []
    assert crossings(run(proc, walk(2, [20, 40, 60, 80], x=90))) == [(("gate", "in"),)]


def test_two_objects_crossing_each_other_on_the_line_each_count_once() -> None:
    proc = LinesProcessor([MIDDLE])
    frames = []
    for i in range(7):  # track 1 goes down, track 2 goes up: they meet on the line
        frames.append(result(i, [(1, (100, 20 + 10 * i)), (2, (104, 80 - 10 * i))]))
    out = run(proc, frames)
    by_track: dict[int, list[object]] = {1: [], 2: []}
    for r in out:
        tids = r.detections.tracker_id
        assert tids is not None
        for tid, c in zip(tids, r.detections.data["crossings"], strict=True):
            by_track[int(tid)].extend(c)
    assert by_track == {1: [("door", "in")], 2: [("door", "out")]}
    assert out[-1].line_counts == {"door": {"person": (1, 1)}}


def test_a_crossing_before_the_track_is_a_true_positive_counts_when_it_becomes_one() -> None:
    proc = LinesProcessor([MIDDLE])
    frames = [result(i, [(1, (100, y))], tp=[False]) for i, y in enumerate([20, 40, 60, 80])]
    frames.append(result(4, [(1, (100, 85))], tp=[True]))
    out = run(proc, frames)
    assert out[3].line_counts == {"door": {}}  # crossed, not yet a true positive
    assert out[4].line_counts == {"door": {"person": (1, 0)}}
    assert crossings(out) == [(("door", "in"),)]  # published once, when it happened


def test_tentative_detections_and_other_labels_are_ignored() -> None:
    proc = LinesProcessor([LineConfig(name="drive", points=MIDDLE.points, objects=("car",))])
    out = run(proc, walk(-1, [20, 40, 60, 80]) + walk(3, [20, 40, 60, 80]))
    assert crossings(out) == []
    assert out[-1].line_counts == {"drive": {"car": (0, 0)}}
    out = run(proc, [result(i, [(4, (100, y))], class_id=2) for i, y in enumerate([20, 80])])
    assert out[-1].line_counts == {"drive": {"car": (1, 0)}}


def test_a_track_that_disappears_and_comes_back_keeps_its_side() -> None:
    proc = LinesProcessor([MIDDLE])
    frames = walk(1, [20, 30]) + [result(i, []) for i in range(2, 6)]
    frames += [result(6, [(1, (100, 70))]), result(7, [(1, (100, 30))])]
    out = run(proc, frames)
    assert crossings(out) == [(("door", "in"),), (("door", "out"),)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "a", "points": [[0, 0]]}, r"lines\[0\]\.points: expected 2"),
        ({"name": "a", "points": [[0, 0], [0, 0]]}, r"lines\[0\]\.points: expected two different"),
        ({"name": "", "points": [[0, 0], [1, 1]]}, r"lines\[0\]\.name: expected a name"),
        ({"name": "a", "points": [[0, 0], [1, 1]], "hysteresis": 2}, r"lines\[0\]\.hysteresis"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Top:
        lines: tuple[LineConfig, ...] = field(default=())

    with pytest.raises(ConfigError, match=message):
        build(Top, {"lines": [table]})


def test_component_hooks() -> None:
    from camera_app.analysis import lines as lines_module

    with pytest.raises(ConfigError, match=r"lines\[1\]\.name: 'door' is already used"):
        lines_module.validate((MIDDLE, MIDDLE))
    assert lines_module.describe((MIDDLE,)) == "lines door"
    assert lines_module.build((), None) is None  # type: ignore[arg-type]
