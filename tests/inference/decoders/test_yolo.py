from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference.decoders.yolo import (
    YoloEndToEndDecoder,
    YoloV5Decoder,
    YoloV8Decoder,
)
from camera_app.inference.types import DecodeOptions, InputTransform, ModelInfo, TensorInfo

DECODERS = (YoloV5Decoder, YoloV8Decoder, YoloEndToEndDecoder)
MODEL_WH = (640, 640)
STRETCH = InputTransform.stretch(MODEL_WH, MODEL_WH)  # identity: frame == model input


def model_info(
    *output_shapes: tuple[int, ...],
    dtype: Any = np.float32,
    scale: float = 0.0,
    zero_point: int = 0,
    input_wh: tuple[int, int] = MODEL_WH,
) -> ModelInfo:
    w, h = input_wh
    return ModelInfo(
        path="test.tflite",
        inputs=(TensorInfo("images", 0, (1, h, w, 3), np.dtype(np.float32)),),
        outputs=tuple(
            TensorInfo(f"out{i}", 100 + i, shape, np.dtype(dtype), scale, zero_point)
            for i, shape in enumerate(output_shapes)
        ),
    )


# A detection for the builders: (cx, cy, w, h, class_id, class_score, objectness).
Det = tuple[float, float, float, float, int, float, float]


def v5_output(dets: Sequence[Det], anchors: int = 25200, classes: int = 80) -> np.ndarray:
    out = np.zeros((1, anchors, 5 + classes), np.float32)
    for row, (cx, cy, w, h, cls, score, obj) in zip(range(7, anchors, 97), dets, strict=False):
        out[0, row, :5] = (cx, cy, w, h, obj)
        out[0, row, 5 + cls] = score
        out[0, row, 5 + (cls + 1) % classes] = score / 2  # a runner-up class
    return out


def v8_output(dets: Sequence[Det], anchors: int = 8400, classes: int = 80) -> np.ndarray:
    out = np.zeros((1, 4 + classes, anchors), np.float32)
    for col, (cx, cy, w, h, cls, score, _obj) in zip(range(5, anchors, 89), dets, strict=False):
        out[0, :4, col] = (cx, cy, w, h)
        out[0, 4 + cls, col] = score
        out[0, 4 + (cls + 1) % classes, col] = score / 2
    return out


def e2e_output(dets: Sequence[Det], rows: int = 300) -> np.ndarray:
    out = np.zeros((1, rows, 6), np.float32)
    for i, (cx, cy, w, h, cls, score, _obj) in enumerate(dets):
        out[0, i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, cls)
    return out


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: Any) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.rint(values / scale) + zero_point, info.min, info.max).astype(dtype)


def decode(cls: Any, info: ModelInfo, output: np.ndarray, transform: InputTransform = STRETCH,
           **options: Any):  # fmt: skip
    decoder = cls.from_model(info, DecodeOptions(**options))
    return decoder.decode([output], transform).detections


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("shapes", "input_wh", "family"),
    [
        ([(1, 25200, 85)], (640, 640), "yolov5"),
        ([(1, 6300, 85)], (320, 320), "yolov5"),
        ([(1, 25200, 6)], (640, 640), "yolov5"),  # one class: v5, not end-to-end
        ([(1, 15120, 85)], (640, 384), "yolov5"),  # non-square input
        ([(1, 84, 8400)], (640, 640), "yolov8"),
        ([(1, 84, 2100)], (320, 320), "yolov8"),
        ([(1, 5, 8400)], (640, 640), "yolov8"),  # one class
        ([(1, 300, 6)], (640, 640), "yolo_e2e"),
        ([(1, 100, 6)], (320, 320), "yolo_e2e"),
        ([(1, 8400, 84)], (640, 640), None),  # transposed v8: ambiguous, not claimed
        ([(1, 84, 8000)], (640, 640), None),  # anchors that fit no grid
        ([(1, 1001)], (224, 224), None),  # classifier
        ([(1, 10, 4), (1, 10), (1, 10), (1,)], (300, 300), None),  # SSD post-processed
        ([(1, 896, 16), (1, 896, 1)], (128, 128), None),  # BlazeFace
        ([(1, 1, 17, 3)], (192, 192), None),  # MoveNet
    ],
)
def test_matches_exactly_one_family(shapes, input_wh, family) -> None:
    info = model_info(*shapes, input_wh=input_wh)
    matched = [cls.family for cls in DECODERS if cls.matches(info)]
    assert matched == ([family] if family else [])


@pytest.mark.parametrize("cls", DECODERS)
@pytest.mark.parametrize(
    "shapes",
    [
        [(1, 1001)],
        [(1, 25200, 85), (1, 32, 160, 160)],  # segmentation heads: two outputs
        [(2, 25200, 85)],
        [(1, 4, 2)],
    ],
)
def test_from_model_rejects_bad_shapes_naming_them(cls, shapes) -> None:
    info = model_info(*shapes)
    with pytest.raises(ModelError) as err:
        cls.from_model(info, DecodeOptions())
    assert cls.family in str(err.value)
    assert str(list(shapes[0])) in str(err.value)


@pytest.mark.parametrize(
    ("cls", "good", "bad"),
    [
        (YoloV5Decoder, (1, 25200, 85), (1, 84, 8400)),
        (YoloV8Decoder, (1, 84, 8400), (1, 25200, 85)),
        (YoloEndToEndDecoder, (1, 300, 6), (1, 84, 8400)),
    ],
)
def test_from_model_rejects_the_other_layouts(cls, good, bad) -> None:
    cls.from_model(model_info(good), DecodeOptions())
    with pytest.raises(ModelError, match=r"\[1, "):
        cls.from_model(model_info(bad), DecodeOptions())


@pytest.mark.parametrize("cls", DECODERS)
def test_decode_rejects_wrong_output_shape(cls) -> None:
    shape = {YoloV5Decoder: (1, 25200, 85), YoloV8Decoder: (1, 84, 8400),
             YoloEndToEndDecoder: (1, 300, 6)}[cls]  # fmt: skip
    decoder = cls.from_model(model_info(shape), DecodeOptions())
    with pytest.raises(ModelError, match="expected one output"):
        decoder.decode([np.zeros((1, 7, 7), np.float32)], STRETCH)


# ---------------------------------------------------------------- decoding

PIXEL_DET: Det = (320.0, 240.0, 160.0, 120.0, 2, 0.8, 0.9)  # box 240,180 -> 400,300
NORM_DET: Det = (0.5, 0.375, 0.25, 0.1875, 2, 0.8, 0.9)  # the same box, normalised
EXPECTED_XYXY = [240.0, 180.0, 400.0, 300.0]


@pytest.mark.parametrize(
    ("name", "cls", "output", "expected_score"),
    [
        ("v5 normalised", YoloV5Decoder, v5_output([NORM_DET]), 0.72),
        ("v5 pixels", YoloV5Decoder, v5_output([PIXEL_DET]), 0.72),
        ("v8 normalised", YoloV8Decoder, v8_output([NORM_DET]), 0.8),
        ("v8 pixels", YoloV8Decoder, v8_output([PIXEL_DET]), 0.8),
        ("e2e normalised", YoloEndToEndDecoder, e2e_output([NORM_DET]), 0.8),
        ("e2e pixels", YoloEndToEndDecoder, e2e_output([PIXEL_DET]), 0.8),
    ],
)
def test_decode_float_outputs(name, cls, output, expected_score) -> None:
    dets = decode(cls, model_info(output.shape), output, threshold=0.5)
    assert len(dets) == 1, name
    np.testing.assert_allclose(dets.xyxy[0], EXPECTED_XYXY, atol=1e-3)
    np.testing.assert_allclose(dets.confidence, [expected_score], rtol=1e-5)
    assert dets.class_id.tolist() == [2]


@pytest.mark.parametrize(
    ("cls", "builder", "dtype", "zero_point", "expected_score"),
    [
        (YoloV8Decoder, v8_output, np.int8, -128, 0.8),
        (YoloV8Decoder, v8_output, np.uint8, 0, 0.8),
        (YoloV5Decoder, v5_output, np.int8, -128, 0.72),
        (YoloEndToEndDecoder, e2e_output, np.uint8, 0, 0.8),
    ],
)
def test_decode_quantized_outputs(cls, builder, dtype, zero_point, expected_score) -> None:
    scale = 1 / 255
    if cls is YoloEndToEndDecoder:  # the class column must be representable too
        scale = 4 / 255
    raw = quantize(builder([NORM_DET]), scale, zero_point, dtype)
    info = model_info(raw.shape, dtype=dtype, scale=scale, zero_point=zero_point)
    dets = decode(cls, info, raw, threshold=0.5)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.xyxy[0], EXPECTED_XYXY, atol=640 * scale)
    np.testing.assert_allclose(dets.confidence, [expected_score], atol=2 * scale)
    assert dets.class_id.tolist() == [2]


@pytest.mark.parametrize("cls", DECODERS)
@pytest.mark.parametrize("normalized", [True, False])
def test_letterbox_maps_boxes_to_frame_pixels(cls, normalized: bool) -> None:
    # A 1280x720 frame letterboxed into 640x640: scale 0.5, 140 rows of padding on top.
    transform = InputTransform.letterbox(MODEL_WH, (1280, 720))
    model_box = (200.0, 140.0 + 100.0, 200.0, 100.0)  # cx, cy, w, h in model pixels
    if normalized:
        model_box = tuple(v / 640 for v in model_box)
    det: Det = (*model_box, 5, 0.9, 1.0)
    builder = {YoloV5Decoder: v5_output, YoloV8Decoder: v8_output,
               YoloEndToEndDecoder: e2e_output}[cls]  # fmt: skip
    output = builder([det])
    dets = decode(cls, model_info(output.shape), output, transform)
    np.testing.assert_allclose(dets.xyxy, [[200.0, 100.0, 600.0, 300.0]], atol=1e-3)


@pytest.mark.parametrize(
    ("cls", "builder"),
    [(YoloV5Decoder, v5_output), (YoloV8Decoder, v8_output)],
)
@pytest.mark.parametrize(
    ("agnostic", "expected_classes"),
    [(False, [0, 1]), (True, [0])],
)
def test_nms_per_class_or_agnostic(cls, builder, agnostic: bool, expected_classes) -> None:
    dets_in: list[Det] = [
        (100, 100, 50, 50, 0, 0.9, 1.0),
        (102, 102, 50, 50, 0, 0.7, 1.0),  # same class, overlapping: always suppressed
        (101, 101, 50, 50, 1, 0.8, 1.0),  # other class, overlapping
        (400, 400, 50, 50, 0, 0.6, 1.0),  # far away: always kept
    ]
    output = builder(dets_in)
    dets = decode(cls, model_info(output.shape), output, class_agnostic_nms=agnostic)
    assert dets.class_id.tolist() == [*expected_classes, 0]
    assert dets.confidence[0] == pytest.approx(0.9)
    assert dets.confidence[-1] == pytest.approx(0.6)


@pytest.mark.parametrize(("cls", "builder"), [
    (YoloV5Decoder, v5_output), (YoloV8Decoder, v8_output), (YoloEndToEndDecoder, e2e_output),
])  # fmt: skip
@pytest.mark.parametrize(
    ("options", "expected_classes"),
    [
        ({}, [3, 7, 0]),
        ({"classes": (0, 7)}, [7, 0]),
        ({"classes": (42,)}, []),
        ({"threshold": 0.65}, [3, 7]),
        ({"max_detections": 2}, [3, 7]),
    ],
)
def test_threshold_class_filter_and_cap(cls, builder, options, expected_classes) -> None:
    output = builder([
        (100, 100, 40, 40, 0, 0.55, 1.0),
        (300, 100, 40, 40, 7, 0.7, 1.0),
        (500, 100, 40, 40, 3, 0.95, 1.0),
        (500, 500, 40, 40, 4, 0.3, 1.0),  # below every threshold
    ])  # fmt: skip
    dets = decode(cls, model_info(output.shape), output, **options)
    assert dets.class_id.tolist() == expected_classes


def test_v5_score_is_objectness_times_class_score() -> None:
    output = v5_output([
        (100, 100, 40, 40, 0, 0.9, 0.5),  # 0.45: below 0.5 although both parts pass alone
        (300, 100, 40, 40, 1, 0.6, 0.95),  # 0.57
    ])  # fmt: skip
    dets = decode(YoloV5Decoder, model_info(output.shape), output, threshold=0.5)
    assert dets.class_id.tolist() == [1]
    np.testing.assert_allclose(dets.confidence, [0.57], rtol=1e-5)


@pytest.mark.parametrize(
    ("box_format", "expected_xyxy"),
    [
        ("pixels", [0.375, 0.28125, 0.625, 0.46875]),  # taken as pixels: a sub-pixel box
        ("normalized", EXPECTED_XYXY),
        ("auto", EXPECTED_XYXY),
    ],
)
def test_box_format_override(box_format: str, expected_xyxy) -> None:
    transform = InputTransform.stretch(MODEL_WH, MODEL_WH)
    output = v8_output([NORM_DET])
    dets = decode(YoloV8Decoder, model_info(output.shape), output, transform, box_format=box_format)
    np.testing.assert_allclose(dets.xyxy, [expected_xyxy], atol=1e-4)


@pytest.mark.parametrize(
    ("cls", "output"),
    [
        (YoloV5Decoder, v5_output([])),
        (YoloV8Decoder, v8_output([])),
        (YoloEndToEndDecoder, e2e_output([])),
        (YoloV8Decoder, quantize(v8_output([]), 1 / 255, -128, np.int8)),
    ],
)
def test_empty_output_gives_empty_detections(cls, output) -> None:
    info = model_info(output.shape, dtype=output.dtype, scale=1 / 255 if output.dtype == np.int8
                      else 0.0, zero_point=-128 if output.dtype == np.int8 else 0)  # fmt: skip
    dets = decode(cls, info, output)
    assert len(dets) == 0
    assert dets.xyxy.shape == (0, 4)


def test_box_in_letterbox_padding_is_dropped() -> None:
    transform = InputTransform.letterbox(MODEL_WH, (1280, 720))  # pads rows 0..140
    output = v8_output([(320, 60, 100, 40, 0, 0.9, 1.0), (320, 320, 100, 40, 1, 0.9, 1.0)])
    dets = decode(YoloV8Decoder, model_info(output.shape), output, transform)
    assert dets.class_id.tolist() == [1]
