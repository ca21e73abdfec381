from __future__ import annotations

import numpy as np
import pytest

from camera_app.inference.decoders.nms import iou_one_to_many, nms, weighted_nms


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)


def reference_nms(
    xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, class_id: np.ndarray | None
) -> list[int]:
    """Plain per-pair greedy NMS to check the vectorised one against."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        ok = True
        for k in keep:
            if class_id is not None and class_id[i] != class_id[k]:
                continue
            if iou_one_to_many(xyxy[k], xyxy[i : i + 1])[0] > iou_threshold:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize(
    ("box", "others", "expected"),
    [
        ((0, 0, 2, 2), [(1, 1, 3, 3)], [1 / 7]),
        ((0, 0, 2, 2), [(0, 0, 2, 2)], [1.0]),
        ((0, 0, 2, 2), [(2, 0, 4, 2)], [0.0]),  # touching edges
        ((0, 0, 2, 2), [(0, 0, 1, 1), (5, 5, 6, 6)], [0.25, 0.0]),
        ((0, 0, 0, 0), [(0, 0, 0, 0)], [0.0]),  # zero area: no division by zero
    ],
)
def test_iou_one_to_many(box, others, expected) -> None:
    got = iou_one_to_many(np.asarray(box, np.float32), boxes(*others))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "xyxy", "scores", "class_id", "agnostic", "iou", "max_det", "expected"),
    [
        ("overlap same class keeps best", boxes((0, 0, 10, 10), (1, 1, 11, 11)),
         [0.6, 0.9], [0, 0], False, 0.5, 10, [1]),
        ("overlap other class kept per class", boxes((0, 0, 10, 10), (1, 1, 11, 11)),
         [0.6, 0.9], [0, 1], False, 0.5, 10, [1, 0]),
        ("overlap other class suppressed when agnostic", boxes((0, 0, 10, 10), (1, 1, 11, 11)),
         [0.6, 0.9], [0, 1], True, 0.5, 10, [1]),
        ("no class ids is agnostic", boxes((0, 0, 10, 10), (1, 1, 11, 11)),
         [0.6, 0.9], None, False, 0.5, 10, [1]),
        ("disjoint all kept best first", boxes((0, 0, 1, 1), (5, 5, 6, 6), (9, 9, 10, 10)),
         [0.2, 0.7, 0.5], [0, 0, 0], False, 0.5, 10, [1, 2, 0]),
        ("iou equal to threshold is kept", boxes((0, 0, 2, 2), (0, 0, 2, 1)),
         [0.9, 0.8], None, False, 0.5, 10, [0, 1]),
        ("cap", boxes((0, 0, 1, 1), (5, 5, 6, 6), (9, 9, 10, 10)),
         [0.2, 0.7, 0.5], None, False, 0.5, 2, [1, 2]),
        ("negative coords keep classes apart", boxes((-50, -50, -40, -40), (-50, -50, -40, -40)),
         [0.9, 0.8], [0, 1], False, 0.5, 10, [0, 1]),
        ("empty", boxes(), [], [], False, 0.5, 10, []),
    ],
)  # fmt: skip
def test_nms_cases(name, xyxy, scores, class_id, agnostic, iou, max_det, expected) -> None:
    cls = None if class_id is None else np.asarray(class_id)
    got = nms(xyxy, np.asarray(scores, np.float32), iou, max_det, class_id=cls, agnostic=agnostic)
    assert got.tolist() == expected, name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("per_class", [False, True])
def test_nms_matches_reference_on_random_boxes(seed: int, per_class: bool) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(200, 2))
    wh = rng.uniform(5, 40, size=(200, 2))
    xyxy = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, size=200).astype(np.float32)
    class_id = rng.integers(0, 3, size=200) if per_class else None
    got = nms(xyxy, scores, 0.45, 1000, class_id=class_id)
    expected = reference_nms(xyxy, scores, 0.45, class_id)
    assert len(expected) > 10
    assert got.tolist() == expected


@pytest.mark.parametrize(
    ("xyxy", "scores"),
    [
        (np.zeros((3, 3)), np.zeros(3)),
        (np.zeros((3, 4)), np.zeros(2)),
    ],
)
def test_nms_rejects_bad_shapes(xyxy, scores) -> None:
    with pytest.raises(ValueError, match="shape"):
        nms(xyxy, scores, 0.5, 10)


def test_weighted_nms_blends_overlapping_boxes_and_keypoints() -> None:
    xyxy = boxes((0, 0, 10, 10), (2, 2, 12, 12), (50, 50, 60, 60))
    scores = np.asarray([0.75, 0.25, 0.6], np.float32)
    keypoints = np.asarray([[[1, 1]], [[5, 5]], [[55, 55]]], np.float32)
    out = weighted_nms(xyxy, scores, 0.3, 10, keypoints=keypoints)
    assert out.best_index.tolist() == [0, 2]
    np.testing.assert_allclose(out.scores, [0.75, 0.6])
    np.testing.assert_allclose(out.xyxy, [[0.5, 0.5, 10.5, 10.5], [50, 50, 60, 60]], rtol=1e-6)
    assert out.keypoints is not None
    np.testing.assert_allclose(out.keypoints, [[[2, 2]], [[55, 55]]], rtol=1e-6)


@pytest.mark.parametrize(
    ("iou", "max_det", "expected_index"),
    [
        (0.3, 10, [0, 2]),  # IoU(0, 1) = 64/136 > 0.3: merged
        (0.5, 10, [0, 1, 2]),  # not above 0.5: kept apart
        (0.3, 1, [0]),
    ],
)
def test_weighted_nms_threshold_and_cap(
    iou: float, max_det: int, expected_index: list[int]
) -> None:
    xyxy = boxes((0, 0, 10, 10), (2, 2, 12, 12), (50, 50, 60, 60))
    out = weighted_nms(xyxy, np.asarray([0.9, 0.8, 0.7], np.float32), iou, max_det)
    assert out.best_index.tolist() == expected_index
    assert out.keypoints is None
    assert len(out.xyxy) == len(expected_index)


def test_weighted_nms_empty() -> None:
    out = weighted_nms(boxes(), np.zeros(0, np.float32), 0.3, 10, keypoints=np.zeros((0, 6, 2)))
    assert out.xyxy.shape == (0, 4)
    assert out.keypoints is not None and out.keypoints.shape == (0, 6, 2)
