"""SSD post-processing outputs on constructed arrays (camera_app/inference/decoders/ssd.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference.decoders import detect_family
from camera_app.inference.decoders.ssd import SsdDecoder
from camera_app.inference.types import DecodeOptions, InputTransform, ModelInfo, TensorInfo

N = 10
MODEL_WH = (300, 300)
FRAME_WH = (640, 480)
STRETCH = InputTransform.stretch(MODEL_WH, FRAME_WH)

# A detection for the builders: (class id, score, (ymin, xmin, ymax, xmax) normalised).
Det = tuple[int, float, tuple[float, float, float, float]]

DETS: list[Det] = [
    (37, 0.7, (0.5, 0.5, 0.75, 1.0)),
    (0, 0.9, (0.1, 0.2, 0.5, 0.6)),
    (2, 0.3, (0.0, 0.0, 0.2, 0.2)),  # below the threshold
]
# Past ``count``: stale rows the op leaves behind, which must be ignored.
STALE: Det = (5, 0.99, (0.2, 0.2, 0.3, 0.3))

ROLE_SHAPES = {"boxes": (1, N, 4), "classes": (1, N), "scores": (1, N), "count": (1,)}

# (role order of the outputs, their names)
LAYOUTS = {
    "tf1": (
        ("boxes", "classes", "scores", "count"),
        tuple(f"TFLite_Detection_PostProcess{s}" for s in ("", ":1", ":2", ":3")),
    ),
    "tf2": (
        ("scores", "boxes", "count", "classes"),
        tuple(f"StatefulPartitionedCall:{i}" for i in range(4)),
    ),
    "tf2 listed out of name order": (
        ("boxes", "classes", "scores", "count"),
        (
            "StatefulPartitionedCall:1",
            "StatefulPartitionedCall:3",
            "StatefulPartitionedCall:0",
            "StatefulPartitionedCall:2",
        ),
    ),
    "tf2 suffixed": (
        ("boxes", "count", "classes", "scores"),
        (
            "StatefulPartitionedCall_1:1",
            "StatefulPartitionedCall_1:2",
            "StatefulPartitionedCall_1:3",
            "StatefulPartitionedCall_1:0",
        ),
    ),
    "unnamed": (("boxes", "classes", "scores", "count"), ("a", "b", "c", "d")),
    "unnamed, scores before classes": (("boxes", "scores", "classes", "count"), ("", "", "", "")),
}


def ssd_info(roles: Sequence[str], names: Sequence[str]) -> ModelInfo:
    w, h = MODEL_WH
    return ModelInfo(
        path="ssd.tflite",
        inputs=(TensorInfo("image", 0, (1, h, w, 3), np.dtype(np.uint8), 0.0078125, 128),),
        outputs=tuple(
            TensorInfo(name, 100 + i, ROLE_SHAPES[role], np.dtype(np.float32))
            for i, (role, name) in enumerate(zip(roles, names, strict=True))
        ),
    )


def ssd_outputs(
    roles: Sequence[str], dets: Sequence[Det], count: int | None = None
) -> list[np.ndarray]:
    boxes = np.zeros((1, N, 4), np.float32)
    classes = np.zeros((1, N), np.float32)
    scores = np.zeros((1, N), np.float32)
    rows = list(dets) + [STALE] * (N - len(dets))
    for i, (cls, score, yxyx) in enumerate(rows):
        boxes[0, i] = yxyx
        classes[0, i] = cls
        scores[0, i] = score
    by_role = {
        "boxes": boxes,
        "classes": classes,
        "scores": scores,
        "count": np.array([len(dets) if count is None else count], np.float32),
    }
    return [by_role[r] for r in roles]


def frame_xyxy(yxyx: tuple[float, float, float, float]) -> list[float]:
    ymin, xmin, ymax, xmax = yxyx
    w, h = FRAME_WH
    return [xmin * w, ymin * h, xmax * w, ymax * h]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts(layout: str) -> None:
    roles, names = LAYOUTS[layout]
    info = ssd_info(roles, names)
    assert detect_family(info) == "ssd"
    decoder = SsdDecoder.from_model(info, DecodeOptions(threshold=0.5))
    for _ in range(2):  # the first frame may fix up the roles; the second must agree
        d = decoder.decode(ssd_outputs(roles, DETS), STRETCH).detections
        assert d.class_id.tolist() == [0, 37]
        np.testing.assert_allclose(d.confidence, [0.9, 0.7], atol=1e-6)
        np.testing.assert_allclose(
            d.xyxy, [frame_xyxy(DETS[1][2]), frame_xyxy(DETS[0][2])], atol=1e-3
        )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, []), (1, [37]), (2, [0, 37]), (3, [0, 37]), (N, [5] * (N - len(DETS)) + [0, 37])],
)
def test_count_is_honoured(count: int, expected: list[int]) -> None:
    roles, names = LAYOUTS["tf1"]
    decoder = SsdDecoder.from_model(ssd_info(roles, names), DecodeOptions(threshold=0.5))
    d = decoder.decode(ssd_outputs(roles, DETS, count=count), STRETCH).detections
    assert d.class_id.tolist() == expected  # best first


def test_count_larger_than_the_arrays() -> None:
    roles, names = LAYOUTS["tf1"]
    decoder = SsdDecoder.from_model(ssd_info(roles, names), DecodeOptions(threshold=0.95))
    d = decoder.decode(ssd_outputs(roles, DETS, count=50), STRETCH).detections
    assert len(d) == N - len(DETS)


def test_boxes_are_clipped_to_the_frame() -> None:
    roles, names = LAYOUTS["tf1"]
    decoder = SsdDecoder.from_model(ssd_info(roles, names), DecodeOptions(threshold=0.5))
    dets: list[Det] = [(1, 0.8, (-0.1, 0.9, 0.5, 1.3)), (2, 0.7, (0.8, -0.5, 1.01, 0.2))]
    d = decoder.decode(ssd_outputs(roles, dets), STRETCH).detections
    w, h = FRAME_WH
    np.testing.assert_allclose(
        d.xyxy, [[0.9 * w, 0, w, 0.5 * h], [0, 0.8 * h, 0.2 * w, h]], atol=1e-3
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (DecodeOptions(threshold=0.5), [0, 37]),
        (DecodeOptions(threshold=0.8), [0]),
        (DecodeOptions(threshold=0.25), [0, 37, 2]),
        (DecodeOptions(threshold=0.25, max_detections=2), [0, 37]),
        (DecodeOptions(threshold=0.25, classes=(2, 37)), [37, 2]),
        (DecodeOptions(threshold=0.25, classes=(99,)), []),
    ],
)
def test_options(options: DecodeOptions, expected: list[int]) -> None:
    roles, names = LAYOUTS["tf2"]
    decoder = SsdDecoder.from_model(ssd_info(roles, names), options)
    d = decoder.decode(ssd_outputs(roles, DETS), STRETCH).detections
    assert d.class_id.tolist() == expected
    by_class = {cls: yxyx for cls, _, yxyx in DETS}
    np.testing.assert_allclose(
        d.xyxy.reshape(-1, 4),
        [frame_xyxy(by_class[c]) for c in expected] or np.zeros((0, 4)),
        atol=1e-3,
    )


@pytest.mark.parametrize(
    "shapes",
    [
        ((1, N, 4), (1, N), (1, N)),
        ((1, N, 4), (1, N), (1, N), (1, N)),
        ((1, N, 4), (1, N), (1, N + 1), (1,)),
        ((1, 1001),),
    ],
)
def test_not_an_ssd_head(shapes: tuple[tuple[int, ...], ...]) -> None:
    info = ModelInfo(
        path="other.tflite",
        inputs=(TensorInfo("image", 0, (1, 300, 300, 3), np.dtype(np.uint8)),),
        outputs=tuple(
            TensorInfo(f"o{i}", i, s, np.dtype(np.float32)) for i, s in enumerate(shapes)
        ),
    )
    assert not SsdDecoder.matches(info)
    with pytest.raises(ModelError, match="not an SSD post-processing head"):
        SsdDecoder.from_model(info, DecodeOptions())
