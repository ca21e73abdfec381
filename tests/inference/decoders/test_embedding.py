"""Feature extractors (camera_app/inference/decoders/embedding.py): told from
classifiers by shape and quantisation range, never decoded as class scores.

The real Coral embedding extractor is not among the fixtures; a tiny model with
the same output signature ([1, 1, 1, N] uint8, ReLU6: scale 6/255, zero point
0) is built with TensorFlow (the ``convert`` extra) at test time.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from camera_app import results
from camera_app.errors import ModelError
from camera_app.inference import decoders
from camera_app.inference.decoders.embedding import (
    EmbeddingDecoder,
    looks_like_embedding,
    quantized_range,
)
from camera_app.inference.types import DecodeOptions, InputTransform, ModelInfo, TensorInfo

RELU6_SCALE = 6 / 255
SOFTMAX_SCALE = 1 / 256
EMBEDDING_SIZE = 64


def tensor(
    shape: tuple[int, ...], dtype: Any = np.uint8, scale: float = 0.0, zp: int = 0
) -> TensorInfo:
    return TensorInfo("out", 1, shape, np.dtype(dtype), scale, zp)


def model_info(*outputs: TensorInfo) -> ModelInfo:
    return ModelInfo(
        path="m.tflite",
        inputs=(TensorInfo("image", 0, (1, 224, 224, 3), np.dtype(np.uint8), 1 / 128, 128),),
        outputs=outputs,
    )


CORAL = tensor((1, 1, 1, 1024), np.uint8, RELU6_SCALE, 0)

SIGNATURES = [
    # (output, embedding?, why)
    (CORAL, True, "Coral's extractor: ReLU6 range 0..6"),
    (tensor((1, 1024), np.uint8, RELU6_SCALE, 0), True, "squeezed, same range"),
    (tensor((1, 1, 1, 1024), np.int8, RELU6_SCALE, -128), True, "int8 ReLU6"),
    (tensor((1, 1, 1, 256), np.uint8, 0.08, 0), True, "ReLU: 0..20"),
    (tensor((1, 1001), np.uint8, SOFTMAX_SCALE, 0), False, "uint8 softmax (mobilenet_v2 quant)"),
    (tensor((1, 1, 1, 1001), np.uint8, SOFTMAX_SCALE, 0), False, "unsqueezed softmax"),
    (tensor((1, 10), np.int8, SOFTMAX_SCALE, -128), False, "int8 softmax"),
    (tensor((1, 10), np.int8, 0.1, 0), False, "int8 logits: negative"),
    (tensor((1, 10), np.uint8, 1 / 255, 0), False, "probabilities 0..1"),
    (tensor((1, 1, 1, 1280), np.float32), True, "float pooled feature map"),
    (tensor((1, 1, 1, 1001), np.float32), False, "float unsqueezed ImageNet head"),
    (tensor((1, 128), np.float32), False, "float [1, N]: a documented limit"),
    (tensor((1, 10, 4), np.float32), False, "boxes"),
    (tensor((1, 1, 17, 3), np.float32), False, "keypoints"),
    (tensor((1, 1, 1, 1), np.uint8, RELU6_SCALE, 0), False, "a single value"),
]


@pytest.mark.parametrize(("output", "expected", "why"), SIGNATURES, ids=[s[2] for s in SIGNATURES])
def test_heuristic(output: TensorInfo, expected: bool, why: str) -> None:
    assert looks_like_embedding(output) is expected, why


def test_relu6_range_is_what_coral_declares() -> None:
    low, high = quantized_range(CORAL)
    assert low == 0.0 and high == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("output", "family"),
    [
        (CORAL, "embedding"),
        (tensor((1, 1001), np.uint8, SOFTMAX_SCALE, 0), "classification"),
        (tensor((1, 1, 1, 1001), np.uint8, SOFTMAX_SCALE, 0), "classification"),
    ],
)
def test_detection_order_puts_embeddings_before_classifiers(
    output: TensorInfo, family: str
) -> None:
    assert decoders.detect_family(model_info(output)) == family


def test_from_model_refuses_outputs_that_are_not_one_vector() -> None:
    with pytest.raises(ModelError, match="not one embedding vector"):
        EmbeddingDecoder.from_model(model_info(tensor((1, 10, 4), np.float32)), DecodeOptions())


def test_decode_dequantises_the_vector() -> None:
    info = model_info(tensor((1, 1, 1, 4), np.uint8, RELU6_SCALE, 0))
    decoder = EmbeddingDecoder.from_model(info, DecodeOptions())
    raw = np.array([0, 255, 128, 1], np.uint8).reshape(1, 1, 1, 4)
    out = decoder.decode([raw], InputTransform.stretch((224, 224), (640, 480)))
    assert len(out.detections) == 0 and out.classes is None
    vector = cast(Any, out).embedding.vector
    assert vector.dtype == np.float32 and vector.shape == (4,)
    np.testing.assert_allclose(vector, [0.0, 6.0, 128 * RELU6_SCALE, RELU6_SCALE], rtol=1e-6)
    raw[0, 0, 0, 0] = 7  # the result owns its values, not the interpreter's buffer
    assert vector[0] == 0.0


# -- a real TFLite model with the Coral extractor's output signature ---------------


@pytest.fixture(scope="module")
def embedding_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32x32x3 uint8 in, conv + ReLU6 + global average pool, [1,1,1,64] uint8 out.

    Two channels are pinned (bias +100: always 6; bias -100: always 0) so
    calibration sees the full ReLU6 range and quantises it as Coral's
    model does: scale 6/255, zero point 0.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = pytest.importorskip(
        "tensorflow", reason="TensorFlow not installed: pip install -e '.[convert]' (CI must)"
    )
    keras = pytest.importorskip("keras")
    inputs = keras.Input((32, 32, 3), batch_size=1)
    conv = keras.layers.Conv2D(EMBEDDING_SIZE, 3, strides=2)
    x = keras.layers.ReLU(max_value=6.0)(conv(inputs))
    outputs = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    model = keras.Model(inputs, outputs)
    kernel, bias = conv.get_weights()
    bias[0], bias[1] = 100.0, -100.0
    conv.set_weights([kernel, bias])
    rng = np.random.default_rng(0)

    def representative() -> Any:
        for _ in range(8):
            yield [rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    path = tmp_path_factory.mktemp("embedding") / "embedding_extractor.tflite"
    with warnings.catch_warnings():  # "Statistics for quantized inputs were expected"
        warnings.simplefilter("ignore", UserWarning)
        path.write_bytes(converter.convert())
    return path


def _load(path: Path, **kwargs: Any) -> Any:
    from camera_app.inference.model import Model, ModelOptions

    return Model(ModelOptions(str(path), num_threads=1, **kwargs))


def test_the_built_model_has_corals_output_signature(embedding_model: Path) -> None:
    model = _load(embedding_model, family="classification")
    out = model.info.outputs[0]
    assert out.shape == (1, 1, 1, EMBEDDING_SIZE) and out.dtype == np.uint8
    assert out.zero_point == 0 and out.scale * 255 == pytest.approx(6.0, rel=1e-3)


def test_forcing_classification_still_works(embedding_model: Path) -> None:
    model = _load(embedding_model, family="classification")
    result = model.infer_image(np.full((48, 64, 3), 100, np.uint8))
    assert model.family == "classification" and result.classes is not None


def test_the_model_reports_its_vector(embedding_model: Path) -> None:
    model = _load(embedding_model)
    assert model.family == "embedding"
    result = model.infer_image(np.full((48, 64, 3), 100, np.uint8))
    assert result.classes is None and len(result.detections) == 0
    vector = result.embedding.vector
    assert vector.shape == (EMBEDDING_SIZE,) and vector.dtype == np.float32
    assert vector[0] == pytest.approx(6.0) and vector[1] == 0.0  # the pinned channels
    assert 0.0 <= vector.min() and vector.max() <= 6.0
    payload = result.payload()["embedding"]
    assert len(payload["vector"]) == EMBEDDING_SIZE
    assert isinstance(result.embedding, results.Embedding)  # type: ignore[attr-defined,unused-ignore]
