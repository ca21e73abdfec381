from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from camera_app.analysis.filters import (
    FilterConfig,
    MaskConfig,
    ObjectFilterProcessor,
    ObjectsConfig,
)
from camera_app.errors import ConfigError
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.labels import Labels
from camera_app.results import Detections, FrameResult
from camera_app.validation import build

LABELS = Labels({0: "person", 1: "bicycle", 2: "car", 3: "dog"}, "test")
IDS = {name: cid for cid, name in LABELS.entries.items()}
W, H = 400, 200  # frame: 80000 px


def result(*dets: tuple[str, list[float], float], labels: Labels | None = LABELS) -> FrameResult:
    """A frame with detections given as (label, xyxy, score)."""
    info = SourceInfo("test", "video", (W, H))
    frame = Frame(np.zeros((H, W, 3), np.uint8), 0, 0, info)
    d = Detections(
        np.array([x for _, x, _ in dets], np.float32).reshape(-1, 4),
        np.array([s for _, _, s in dets], np.float32),
        np.array([IDS[n] for n, _, _ in dets], np.int32),
    )
    return FrameResult(frame, "ssd", d, labels=labels)


def kept(proc: ObjectFilterProcessor, r: FrameResult) -> list[int]:
    """Indices of the input detections that pass (by their unique x1)."""
    out = proc.process(r).detections
    xs = r.detections.xyxy[:, 0].tolist()
    return [xs.index(x) for x in out.xyxy[:, 0].tolist()]


def objects(**kw: Any) -> ObjectsConfig:
    filters = kw.pop("filters", {})
    return build(ObjectsConfig, {**kw, "filters": filters}, "objects")


def test_track_list_keeps_only_those_labels() -> None:
    r = result(
        ("person", [0, 0, 50, 100], 0.9), ("car", [1, 0, 90, 60], 0.9), ("dog", [2, 0, 40, 30], 0.9)
    )
    assert kept(ObjectFilterProcessor(objects(track=["person", "car"])), r) == [0, 1]
    assert kept(ObjectFilterProcessor(objects()), r) == [0, 1, 2]  # empty: every label


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [(False, [0, 3]), (True, [0, 1, 3])],
    ids=["no-tracker", "tracker"],
)
def test_scores_two_levels(tracking: bool, expected: list[int]) -> None:
    # person min_score 0.5, low_score 0.2; dog min_score 0.15 (below the floor)
    r = result(
        ("person", [0, 0, 50, 100], 0.6),
        ("person", [1, 0, 50, 100], 0.3),  # low: only for the tracker
        ("person", [2, 0, 50, 100], 0.1),  # below every floor
        ("dog", [3, 0, 40, 30], 0.16),
    )
    cfg = objects(min_score=0.5, low_score=0.2, filters={"dog": {"min_score": 0.15}})
    assert kept(ObjectFilterProcessor(cfg, tracking=tracking), r) == expected


@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        ({"min_area": 1000}, [1, 2]),  # pixels
        ({"max_area": 5000}, [0, 1]),
        ({"min_area": 0.05}, [2]),  # fractions of the 80000 px frame: 4000 px
        ({"max_area": 0.1}, [0, 1]),  # 8000 px
        ({"min_area": 1000, "max_area": 0.05}, [1]),
    ],
)
def test_area_in_pixels_or_fraction_of_the_frame(
    filt: dict[str, float], expected: list[int]
) -> None:
    r = result(
        ("car", [0, 0, 20, 20], 0.9),  # 400 px
        ("car", [1, 0, 61, 50], 0.9),  # 3000 px
        ("car", [2, 0, 202, 100], 0.9),  # 20000 px
    )
    assert kept(ObjectFilterProcessor(objects(filters={"car": filt})), r) == expected


@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        ({}, [0, 1, 2]),
        ({"min_ratio": 0.5}, [1, 2]),
        ({"max_ratio": 1.5}, [0, 1]),
        ({"min_ratio": 0.8, "max_ratio": 1.2}, [1]),
    ],
)
def test_ratio_is_width_over_height(filt: dict[str, float], expected: list[int]) -> None:
    r = result(
        ("person", [0, 0, 30, 100], 0.9),  # 0.3
        ("person", [1, 0, 101, 100], 0.9),  # 1.0
        ("person", [2, 0, 202, 100], 0.9),  # 2.0
    )
    assert kept(ObjectFilterProcessor(objects(filters={"person": filt})), r) == expected


def test_filters_of_one_label_leave_others_alone() -> None:
    r = result(("person", [0, 0, 10, 10], 0.9), ("car", [1, 0, 11, 10], 0.9))
    assert kept(ObjectFilterProcessor(objects(filters={"person": {"min_area": 500}})), r) == [1]


# the left half of the frame, bottom half: relative and in pixels
LEFT_BOTTOM_REL = [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]
LEFT_BOTTOM_PX = [[0, 100], [200, 100], [200, 200], [0, 200]]


@pytest.mark.parametrize("points", [LEFT_BOTTOM_REL, LEFT_BOTTOM_PX], ids=["relative", "pixels"])
def test_masks_drop_by_the_bottom_centre_of_the_box(points: list[list[float]]) -> None:
    r = result(
        ("person", [10, 20, 60, 150], 0.9),  # feet (35, 150): in the mask
        ("person", [150, 0, 300, 90], 0.9),  # mostly over the mask, feet (225, 90) out
        ("person", [190, 120, 260, 190], 0.9),  # feet (225, 190): right of it
        ("car", [20, 110, 120, 180], 0.9),  # feet in
    )
    masks = (build(MaskConfig, {"points": points}, "masks[0]"),)
    assert kept(ObjectFilterProcessor(objects(), masks), r) == [1, 2]
    per_label = (build(MaskConfig, {"points": points, "objects": ["car"]}, "masks[0]"),)
    assert kept(ObjectFilterProcessor(objects(), per_label), r) == [0, 1, 2]


def test_labels_unknown_use_the_class_id_as_text() -> None:
    r = result(("person", [0, 0, 50, 100], 0.9), ("car", [1, 0, 50, 100], 0.9), labels=None)
    assert kept(ObjectFilterProcessor(objects(track=["2"])), r) == [1]


def test_nothing_to_filter_returns_the_same_result() -> None:
    proc = ObjectFilterProcessor(objects())
    r = result(("person", [0, 0, 50, 100], 0.9))
    assert proc.process(r) is r
    skipped = r.evolve(inferred=False)
    assert ObjectFilterProcessor(objects(track=["car"])).process(skipped) is skipped


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (
            ObjectsConfig,
            {"filters": {"person": {"min_ratio": 2, "max_ratio": 1}}},
            "objects.filters.person.max_ratio: expected >= min_ratio",
        ),
        (
            ObjectsConfig,
            {"track": ["car"], "filters": {"person": {}}},
            "objects.filters.person: not in track",
        ),
        (
            ObjectsConfig,
            {"filters": {"person": {"min_scor": 0.4}}},
            'unknown key "min_scor" in [objects.filters.person] (did you mean "min_score"?)',
        ),
        (ObjectsConfig, {"threshold": 1.5}, "objects.threshold: expected a number from 0 to 1"),
        (
            ObjectsConfig,
            {"filters": {"dog": {"max_area": 0}}},
            "objects.filters.dog.max_area: expected a number > 0",
        ),
        (MaskConfig, {"points": [[0, 0], [1, 1]]}, "masks[0].points: expected at least 3"),
        (MaskConfig, {"points": [[0, -1], [1, 1], [1, 0]]}, "masks[0].points: expected"),
    ],
)
def test_config_errors_name_the_key(cls: type, data: dict[str, Any], message: str) -> None:
    path = "objects" if cls is ObjectsConfig else "masks[0]"
    with pytest.raises(ConfigError) as err:
        build(cls, data, path)
    assert str(err.value).startswith(message), str(err.value)


def test_defaults() -> None:
    c = ObjectsConfig()
    assert (c.min_score, c.threshold, c.low_score, c.track) == (0.5, 0.6, 0.2, ())
    assert FilterConfig().max_area is None
