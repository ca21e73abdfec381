"""Classifier outputs (camera_app/inference/decoders/classification.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference.decoders.classification import ClassificationDecoder
from camera_app.inference.types import DecodeOptions, InputTransform, ModelInfo, TensorInfo

IDENTITY = InputTransform.stretch((224, 224), (224, 224))


def info(n: int, dtype: Any = np.float32, scale: float = 0.0, zero_point: int = 0) -> ModelInfo:
    return ModelInfo(
        path="classifier.tflite",
        inputs=(TensorInfo("image", 0, (1, 224, 224, 3), np.dtype(np.uint8)),),
        outputs=(TensorInfo("probs", 1, (1, n), np.dtype(dtype), scale, zero_point),),
    )


def decode(model: ModelInfo, raw: list[float], **options: Any) -> tuple[list[int], list[float]]:
    decoder = ClassificationDecoder.from_model(model, DecodeOptions(**options))
    out = np.array([raw], dtype=model.outputs[0].dtype)
    classes = decoder.decode([out], IDENTITY).classes
    assert classes is not None
    return classes.class_id.tolist(), classes.score.tolist()


def test_uint8_is_ranked_after_dequantising() -> None:
    raw = [0, 200, 10, 0, 0, 30]
    p = np.array(raw, np.uint8)
    # The trap: -p wraps around for uint8, so the zero-score classes rank first.
    assert int(np.argsort(-p)[0]) in (0, 3, 4)
    ids, scores = decode(info(6, np.uint8, 1 / 256, 0), raw, top_k=3)
    assert ids == [1, 5, 2]
    np.testing.assert_allclose(scores, [200 / 256, 30 / 256, 10 / 256], atol=1e-6)


def test_int8_with_zero_point() -> None:
    raw = [-128, 100, -100, -128]
    p = np.array(raw, np.int8)
    assert int(np.argsort(-p)[0]) != 1  # -(-128) overflows to -128
    ids, scores = decode(info(4, np.int8, 1 / 256, -128), raw, top_k=2)
    assert ids == [1, 2]
    np.testing.assert_allclose(scores, [228 / 256, 28 / 256], atol=1e-6)


@pytest.mark.parametrize(
    "logits",
    [[2.0, 1.0, 0.1], [-1.0, -2.0, -3.0], [10.0, 12.0, 11.0]],
    ids=["positive", "negative", "large"],
)
def test_logits_become_probabilities(logits: list[float]) -> None:
    x = np.array(logits, np.float64)
    expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    ids, scores = decode(info(3), logits, top_k=3)
    assert ids == np.argsort(-expected).tolist()
    np.testing.assert_allclose(scores, np.sort(expected)[::-1], atol=1e-5)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_probabilities_are_kept() -> None:
    ids, scores = decode(info(4), [0.1, 0.6, 0.2, 0.1], top_k=2)
    assert ids == [1, 2]
    np.testing.assert_allclose(scores, [0.6, 0.2], atol=1e-6)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"top_k": 1}, [0]),
        ({"top_k": 10}, [0, 1, 2, 3]),
        ({"top_k": 5, "classes": (2, 3)}, [2, 3]),
        ({"top_k": 5, "classes": (3, 99)}, [3]),
    ],
)
def test_options(options: dict[str, Any], expected: list[int]) -> None:
    ids, _ = decode(info(4), [0.4, 0.3, 0.2, 0.1], **options)
    assert ids == expected


def test_skipped_class_never_reported() -> None:
    decoder = ClassificationDecoder.from_model(info(4), DecodeOptions(top_k=4))
    decoder.skip_class_ids = (0,)
    classes = decoder.decode([np.array([[0.7, 0.1, 0.15, 0.05]], np.float32)], IDENTITY).classes
    assert classes is not None
    assert classes.class_id.tolist() == [2, 1, 3]


@pytest.mark.parametrize("shapes", [[(1, 1)], [(1, 10), (1, 10)], [(1, 7, 7, 10)]])
def test_not_a_classifier(shapes: list[tuple[int, ...]]) -> None:
    model = ModelInfo(
        path="other.tflite",
        inputs=(TensorInfo("image", 0, (1, 224, 224, 3), np.dtype(np.uint8)),),
        outputs=tuple(
            TensorInfo(f"o{i}", i, s, np.dtype(np.float32)) for i, s in enumerate(shapes)
        ),
    )
    with pytest.raises(ModelError, match="classifier"):
        ClassificationDecoder.from_model(model, DecodeOptions())
