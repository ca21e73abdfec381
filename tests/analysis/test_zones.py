"""Zones on constructed trajectories: inertia, loitering, labels, counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.zones import ZoneConfig, ZonesProcessor
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
    tp: bool = True,
    fps: float = 10.0,
) -> FrameResult:
    """Objects as (tracker id, bottom-centre point); boxes 20x40 px standing there."""
    boxes = [[x - 10, y - 40, x + 10, y] for _, (x, y) in objects]
    n = len(objects)
    det = Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(n, 0.8, np.float32),
        np.full(n, class_id, np.int32),
        tracker_id=np.array([t for t, _ in objects], np.int64),
        data={"true_positive": np.full(n, tp)},
    )
    media_ms = frame_id * 1000.0 / fps
    frame = Frame(IMAGE, frame_id, 1_000_000_000 + int(media_ms * 1e6), INFO, media_ms=media_ms)
    return FrameResult(frame, "ssd", det, labels=Labels())


def run(proc: ZonesProcessor, results: list[FrameResult]) -> list[FrameResult]:
    proc.bind(ProcessorContext(emit=lambda e: None, every_frame=True))
    return [proc.process(r) for r in results]


RIGHT_HALF = ZoneConfig(name="right", points=((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))


def zones_of(out: list[FrameResult], tid: int = 1) -> list[tuple[str, ...] | None]:
    rows = []
    for r in out:
        assert r.detections.tracker_id is not None
        ids = list(r.detections.tracker_id)
        rows.append(r.detections.data["zones"][ids.index(tid)] if tid in ids else None)
    return rows


def test_enters_after_inertia_frames_and_leaves_after_inertia_frames_outside() -> None:
    proc = ZonesProcessor([RIGHT_HALF])  # inertia 3
    xs = [50, 60, 150, 150, 150, 150, 50, 50, 50, 50]
    out = run(proc, [result(i, [(1, (x, 80))]) for i, x in enumerate(xs)])
    assert zones_of(out) == [(), (), (), (), ("right",), ("right",), ("right",), ("right",), (), ()]
    assert [r.zone_counts["right"].get("person", 0) for r in out] == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert out[-1].zone_counts == {"right": {"person": 0}}  # stays at 0 once seen


def test_a_box_jittering_on_the_border_neither_enters_nor_leaves() -> None:
    proc = ZonesProcessor([RIGHT_HALF])
    xs = [99, 101, 99, 101, 99, 101, 102, 103, 104, 98, 102, 98, 102]
    out = run(proc, [result(i, [(1, (x, 80))]) for i, x in enumerate(xs)])
    got = zones_of(out)
    assert got[:6] == [()] * 6  # never 3 frames in a row inside
    assert got[8] == ("right",)  # 101, 102, 103, 104: entered at the third in a row
    assert got[9:] == [("right",)] * 4  # single frames outside do not make it leave


def test_loitering_time_counts_only_after_staying_that_long() -> None:
    zone = ZoneConfig(name="door", points=RIGHT_HALF.points, inertia=1, loitering_time_s=2.0)
    proc = ZonesProcessor([zone])
    out = run(proc, [result(i, [(1, (150, 80))]) for i in range(30)])  # 10 fps, 3 s inside
    first_in = next(i for i, z in enumerate(zones_of(out)) if z)
    assert first_in == 20  # 2.0 s after the first frame inside (frame 0)
    assert out[19].zone_counts["door"] == {}
    assert out[20].zone_counts["door"] == {"person": 1}


def test_loitering_restarts_when_the_object_leaves() -> None:
    zone = ZoneConfig(name="door", points=RIGHT_HALF.points, inertia=1, loitering_time_s=1.0)
    proc = ZonesProcessor([zone])
    xs = [150] * 8 + [50] + [150] * 12
    out = run(proc, [result(i, [(1, (x, 80))]) for i, x in enumerate(xs)])
    first_in = next(i for i, z in enumerate(zones_of(out)) if z)
    assert first_in == 19  # back inside at frame 9, 1.0 s later


def test_objects_limits_the_labels_a_zone_counts() -> None:
    zone = ZoneConfig(name="drive", points=RIGHT_HALF.points, inertia=1, objects=("car",))
    proc = ZonesProcessor([zone])
    out = run(proc, [result(0, [(1, (150, 80))], class_id=0)])
    assert out[0].detections.data["zones"][0] == ()
    assert out[0].zone_counts == {"drive": {"car": 0}}  # listed labels start at 0
    out = run(proc, [result(1, [(2, (150, 80))], class_id=2)])
    assert out[0].zone_counts == {"drive": {"car": 1}}


def test_pixel_coordinates_and_several_zones() -> None:
    left = ZoneConfig(name="left", points=((0, 0), (100, 0), (100, 100), (0, 100)), inertia=1)
    top = ZoneConfig(name="low", points=((0, 50), (200, 50), (200, 100), (0, 100)), inertia=1)
    proc = ZonesProcessor([left, top])
    out = run(proc, [result(0, [(1, (50, 80)), (2, (150, 80)), (3, (150, 30))])])
    assert list(out[0].detections.data["zones"]) == [("left", "low"), ("low",), ()]
    assert out[0].zone_counts == {"left": {"person": 1}, "low": {"person": 2}}


def test_tentative_and_false_positive_tracks_are_not_counted() -> None:
    zone = ZoneConfig(name="z", points=RIGHT_HALF.points, inertia=1)
    proc = ZonesProcessor([zone])
    out = run(proc, [result(0, [(-1, (150, 80))])])
    assert out[0].detections.data["zones"][0] == ()
    out = run(proc, [result(1, [(4, (150, 80))], tp=False)])
    assert out[0].detections.data["zones"][0] == ("z",)  # membership still published
    assert out[0].zone_counts["z"] == {}


def test_a_track_missing_for_a_few_frames_keeps_its_zone() -> None:
    proc = ZonesProcessor([RIGHT_HALF], hold_s=1.0)
    frames = [result(i, [(1, (150, 80))]) for i in range(5)]
    frames += [result(i, []) for i in range(5, 9)]  # missed for 0.4 s
    frames += [result(i, [(1, (150, 80))]) for i in range(9, 12)]
    frames += [result(i, []) for i in range(12, 30)]  # gone
    out = run(proc, frames)
    counts = [r.zone_counts["right"].get("person", 0) for r in out]
    assert counts[2:12] == [1] * 10  # no flicker while missed (and no re-entry delay)
    assert zones_of(out)[9] == ("right",)
    assert counts[22:] == [0] * 8  # beyond hold_s: gone


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "a", "points": [[0, 0], [1, 1]]}, "zones[0].points: expected at least 3"),
        ({"name": "a/b", "points": [[0, 0], [1, 0], [1, 1]]}, "zones[0].name: expected a name"),
        ({"name": "a", "points": [[0, 0], [1, 0], [-1, 1]]}, "zones[0].points: expected"),
        ({"name": "a", "points": [[0, 0], [1, 0], [1, 1]], "inertia": 0}, "zones[0].inertia"),
        ({"name": "a", "points": [[0, 0], [1, 0], [1, 1]], "inertai": 2}, 'did you mean "inertia"'),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Top:
        zones: tuple[ZoneConfig, ...] = field(default=())

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(Top, {"zones": [table]})


def test_duplicate_zone_names_are_refused() -> None:
    z = ZoneConfig(name="a", points=RIGHT_HALF.points)
    with pytest.raises(ConfigError, match=r"zones\[1\]\.name: 'a' is already used"):
        ZonesProcessor([z, z])


def test_with_the_tracker_column_a_missing_track_counts_until_the_tracker_drops_it() -> None:
    proc = ZonesProcessor([RIGHT_HALF], hold_s=0.0)

    def seen(i: int) -> FrameResult:
        r = result(i, [(1, (150, 80))])
        expires = np.array([i / 10 + 0.5])  # the tracker keeps it 0.5 s
        return r.evolve(detections=r.detections.with_columns(track_expires_s=expires))

    out = run(proc, [seen(i) for i in range(4)] + [result(i, []) for i in range(4, 12)])
    counts = [r.zone_counts["right"].get("person", 0) for r in out]
    assert counts == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]  # last seen 0.3 s, kept to 0.8 s


def test_component_hooks() -> None:
    from camera_app.analysis import zones as zones_module

    z = ZoneConfig(name="a", points=RIGHT_HALF.points)
    with pytest.raises(ConfigError, match=r"zones\[1\]\.name: 'a' is already used"):
        zones_module.validate((z, z))
    assert zones_module.describe((z,)) == "zones a" and zones_module.describe(()) is None
    assert zones_module.build((), None) is None  # type: ignore[arg-type]
    assert isinstance(zones_module.build((z,), None), ZonesProcessor)  # type: ignore[arg-type]
