from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference.decoders.blazeface import (
    FULL_RANGE,
    SHORT_RANGE,
    BlazeFaceDecoder,
    ssd_anchor_centers,
)
from camera_app.inference.types import DecodeOptions, InputTransform, ModelInfo, TensorInfo

REPO = Path(__file__).resolve().parents[3]
MODELS_DIR = REPO / "models"


def fixtures_dir() -> Path:
    """The shared fixtures folder (CAMERA_APP_FIXTURES, default ../shared/fixtures)."""
    path = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
    if not path.is_dir():
        pytest.skip(f"fixtures folder {path} is missing (set CAMERA_APP_FIXTURES)")
    return path


def model_info(
    input_wh: tuple[int, int], *output_shapes: tuple[int, ...], path: str = "face.tflite"
) -> ModelInfo:
    w, h = input_wh
    return ModelInfo(
        path=path,
        inputs=(TensorInfo("input", 0, (1, h, w, 3), np.dtype(np.float32)),),
        outputs=tuple(
            TensorInfo(f"out{i}", 100 + i, s, np.dtype(np.float32))
            for i, s in enumerate(output_shapes)
        ),
    )


SHORT_INFO = model_info((128, 128), (1, 896, 16), (1, 896, 1))
SHORT_INFO_SWAPPED = model_info((128, 128), (1, 896, 1), (1, 896, 16))
FULL_INFO = model_info((192, 192), (1, 2304, 16), (1, 2304, 1))


# ---------------------------------------------------------------- anchors


@pytest.mark.parametrize(
    ("opts", "count", "probes"),
    [
        # index -> (x, y): stride 8 (16x16 cells, 2 anchors each), then the three
        # stride-16 layers sharing one 8x8 map (6 anchors a cell).
        (SHORT_RANGE, 896, {0: (1 / 32, 1 / 32), 1: (1 / 32, 1 / 32), 2: (3 / 32, 1 / 32),
                            32: (1 / 32, 3 / 32), 511: (31 / 32, 31 / 32),
                            512: (1 / 16, 1 / 16), 517: (1 / 16, 1 / 16), 518: (3 / 16, 1 / 16),
                            895: (15 / 16, 15 / 16)}),
        # one stride-4 layer: 48x48 cells, one anchor each.
        (FULL_RANGE, 2304, {0: (1 / 96, 1 / 96), 1: (3 / 96, 1 / 96), 48: (1 / 96, 3 / 96),
                            2303: (95 / 96, 95 / 96)}),
    ],
)  # fmt: skip
def test_anchor_grid(opts, count: int, probes: dict[int, tuple[float, float]]) -> None:
    anchors = ssd_anchor_centers(opts)
    assert anchors.shape == (count, 2)
    for index, xy in probes.items():
        np.testing.assert_allclose(anchors[index], xy, rtol=1e-6, err_msg=f"anchor {index}")


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (SHORT_INFO, True),
        (SHORT_INFO_SWAPPED, True),
        (FULL_INFO, True),
        (model_info((128, 128), (1, 2304, 16), (1, 2304, 1)), False),  # anchors of the other model
        (model_info((128, 128), (1, 896, 16)), False),
        (model_info((160, 160), (1, 896, 16), (1, 896, 1)), False),  # unknown input size
        (model_info((128, 128), (1, 896, 18), (1, 896, 1)), False),
        (model_info((300, 300), (1, 10, 4), (1, 10), (1, 10), (1,)), False),  # SSD
        (model_info((640, 640), (1, 84, 8400)), False),  # YOLOv8
    ],
)
def test_matches(info: ModelInfo, expected: bool) -> None:
    assert BlazeFaceDecoder.matches(info) is expected


@pytest.mark.parametrize(
    "info",
    [
        model_info((128, 128), (1, 2304, 16), (1, 2304, 1)),
        model_info((128, 128), (1, 896, 16)),
        model_info((640, 640), (1, 84, 8400)),
    ],
)
def test_from_model_rejects_bad_shapes_naming_them(info: ModelInfo) -> None:
    with pytest.raises(ModelError) as err:
        BlazeFaceDecoder.from_model(info, DecodeOptions())
    message = str(err.value)
    assert "blazeface" in message
    assert str(list(info.outputs[0].shape)) in message
    assert "[1, 896, 16]" in message  # what it wanted


# ---------------------------------------------------------------- synthetic outputs

ANCHOR = 512 + 6 * (8 * 4 + 4)  # stride-16 cell (4, 4): centre (0.5625, 0.5625)


def short_outputs(
    faces: list[tuple[int, float, tuple[float, float, float, float]]],
) -> list[np.ndarray]:
    """Regressors/classificators with (anchor, logit, (dx, dy, w, h) in input px) rows.

    Keypoint k sits at (dx + k, dy - k) pixels from the anchor centre.
    """
    boxes = np.zeros((1, 896, 16), np.float32)
    scores = np.full((1, 896, 1), -20.0, np.float32)
    for anchor, logit, (dx, dy, w, h) in faces:
        boxes[0, anchor, :4] = (dx, dy, w, h)
        boxes[0, anchor, 4::2] = dx + np.arange(6)
        boxes[0, anchor, 5::2] = dy - np.arange(6)
        scores[0, anchor, 0] = logit
    return [boxes, scores]


def decode(info: ModelInfo, outputs: list[np.ndarray], transform: InputTransform, **options: Any):
    decoder = BlazeFaceDecoder.from_model(info, DecodeOptions(**{"iou_threshold": 0.3, **options}))
    return decoder.decode(outputs, transform).detections


def test_decodes_box_and_keypoints_in_frame_pixels() -> None:
    transform = InputTransform.stretch((128, 128), (256, 512))  # x2 across, x4 down
    outputs = short_outputs([(ANCHOR, 2.0, (8.0, -8.0, 32.0, 16.0))])
    dets = decode(SHORT_INFO, outputs, transform)
    assert len(dets) == 1
    # centre (0.5625 * 128 + 8, 0.5625 * 128 - 8) = (80, 64) px, size 32x16 px
    np.testing.assert_allclose(dets.xyxy, [[64 * 2, 56 * 4, 96 * 2, 72 * 4]], atol=1e-3)
    np.testing.assert_allclose(dets.confidence, [1 / (1 + np.exp(-2.0))], rtol=1e-6)
    assert dets.class_id.tolist() == [0]
    assert dets.keypoints is not None and dets.keypoints.shape == (1, 6, 3)
    k = np.arange(6)
    np.testing.assert_allclose(dets.keypoints[0, :, 0], (80 + k) * 2, atol=1e-3)
    np.testing.assert_allclose(dets.keypoints[0, :, 1], (64 - k) * 4, atol=1e-3)
    np.testing.assert_allclose(dets.keypoints[0, :, 2], dets.confidence[0])


def test_regressor_order_does_not_matter() -> None:
    transform = InputTransform.stretch((128, 128), (128, 128))
    boxes, scores = short_outputs([(ANCHOR, 2.0, (0.0, 0.0, 32.0, 32.0))])
    straight = decode(SHORT_INFO, [boxes, scores], transform)
    swapped = decode(SHORT_INFO_SWAPPED, [scores, boxes], transform)
    assert len(straight) == 1
    np.testing.assert_allclose(swapped.xyxy, straight.xyxy)
    np.testing.assert_allclose(swapped.confidence, straight.confidence)


def test_overlapping_detections_are_blended_by_score() -> None:
    transform = InputTransform.stretch((128, 128), (128, 128))
    outputs = short_outputs([
        (ANCHOR, 2.0, (0.0, 0.0, 32.0, 32.0)),
        (ANCHOR + 1, 0.5, (4.0, 4.0, 32.0, 32.0)),  # same cell, shifted 4 px: IoU 0.62
    ])  # fmt: skip
    dets = decode(SHORT_INFO, outputs, transform)
    s1, s2 = 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-0.5))
    shift = 4.0 * s2 / (s1 + s2)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.confidence, [s1], rtol=1e-6)
    np.testing.assert_allclose(
        dets.xyxy, [[56 + shift, 56 + shift, 88 + shift, 88 + shift]], atol=1e-3
    )
    assert dets.keypoints is not None
    np.testing.assert_allclose(dets.keypoints[0, 0, :2], [72 + shift, 72 + shift], atol=1e-3)


@pytest.mark.parametrize(
    ("options", "expected_count"),
    [
        ({}, 2),
        ({"threshold": 0.9}, 1),  # sigmoid(3) = 0.953 passes, sigmoid(1) = 0.731 does not
        ({"max_detections": 1}, 1),
        ({"classes": (0,)}, 2),
        ({"classes": (1,)}, 0),
    ],
)
def test_options(options: dict[str, Any], expected_count: int) -> None:
    transform = InputTransform.stretch((128, 128), (128, 128))
    outputs = short_outputs([
        (ANCHOR, 3.0, (0.0, 0.0, 16.0, 16.0)),
        (100, 1.0, (0.0, 0.0, 8.0, 8.0)),
        (300, -1.0, (0.0, 0.0, 8.0, 8.0)),  # 0.27: below the default threshold
        (600, 5.0, (0.0, 0.0, -8.0, 8.0)),  # negative width: invalid, dropped
    ])  # fmt: skip
    dets = decode(SHORT_INFO, outputs, transform, **options)
    assert len(dets) == expected_count


def test_huge_logits_are_clipped_without_overflow() -> None:
    transform = InputTransform.stretch((128, 128), (128, 128))
    outputs = short_outputs([(ANCHOR, 1e6, (0.0, 0.0, 16.0, 16.0))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dets = decode(SHORT_INFO, outputs, transform, threshold=0.0)
    assert len(dets) == 1
    assert dets.confidence[0] == pytest.approx(1.0)


def test_empty_output_gives_empty_detections() -> None:
    dets = decode(SHORT_INFO, short_outputs([]), InputTransform.stretch((128, 128), (640, 480)))
    assert len(dets) == 0
    assert dets.xyxy.shape == (0, 4)


# ---------------------------------------------------------------- the real models


@pytest.fixture(scope="module")
def models_dir() -> Path:
    names = ("face_detection_short_range.tflite", "face_detection_full_range.tflite")
    if not all((MODELS_DIR / n).is_file() for n in names):
        proc = subprocess.run(
            [sys.executable, str(MODELS_DIR / "fetch.py"), "--dest", str(MODELS_DIR)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            pytest.skip(
                f"BlazeFace models absent and models/fetch.py failed: {proc.stderr.strip()}"
            )
    return MODELS_DIR


def _tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail["quantization"]
    return TensorInfo(
        detail["name"],
        int(detail["index"]),
        tuple(int(d) for d in detail["shape"]),
        np.dtype(detail["dtype"]),
        float(scale),
        int(zero_point),
    )


@pytest.mark.fixtures
@pytest.mark.parametrize(
    ("model", "min_score"),
    [("face_detection_short_range.tflite", 0.5), ("face_detection_full_range.tflite", 0.6)],
)
def test_real_model_finds_grace_hoppers_face(
    models_dir: Path, model: str, min_score: float
) -> None:
    cv2 = pytest.importorskip("cv2")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    image_path = fixtures_dir() / "images" / "grace_hopper.bmp"
    bgr = cv2.imread(str(image_path))
    assert bgr is not None, image_path
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    frame_h, frame_w = rgb.shape[:2]

    interpreter = litert.Interpreter(model_path=str(models_dir / model))
    interpreter.allocate_tensors()
    info = ModelInfo(
        str(models_dir / model),
        tuple(_tensor_info(d) for d in interpreter.get_input_details()),
        tuple(_tensor_info(d) for d in interpreter.get_output_details()),
    )
    assert BlazeFaceDecoder.matches(info)
    decoder = BlazeFaceDecoder.from_model(
        info, DecodeOptions(threshold=min_score, iou_threshold=0.3)
    )

    # MediaPipe's preprocessing: keep the aspect ratio (black letterbox), RGB
    # float32 in [-1, 1].
    model_wh = info.input_size_wh
    transform = InputTransform.letterbox(model_wh, (frame_w, frame_h))
    content_w, content_h = transform.content_wh
    canvas = np.zeros((model_wh[1], model_wh[0], 3), np.uint8)
    x0, y0 = int(transform.pad_x), int(transform.pad_y)
    canvas[y0 : y0 + content_h, x0 : x0 + content_w] = cv2.resize(
        rgb, (content_w, content_h), interpolation=cv2.INTER_AREA
    )
    interpreter.set_tensor(info.input.index, (canvas.astype(np.float32) / 127.5 - 1.0)[None])
    interpreter.invoke()
    outputs = [interpreter.get_tensor(o.index) for o in info.outputs]

    dets = decoder.decode(outputs, transform).detections
    assert len(dets) == 1
    assert dets.confidence[0] > 0.75
    x1, y1, x2, y2 = dets.xyxy[0]
    # The face is about 200 px across, centred, in the upper half of the 512x600 portrait.
    assert 150 < x2 - x1 < 260 and 150 < y2 - y1 < 260
    assert 0.4 * frame_w < (x1 + x2) / 2 < 0.6 * frame_w
    assert 0.25 * frame_h < (y1 + y2) / 2 < 0.5 * frame_h
    assert dets.keypoints is not None and dets.keypoints.shape == (1, 6, 3)
    kp = dets.keypoints[0]
    assert ((kp[:, 0] > x1) & (kp[:, 0] < x2) & (kp[:, 1] > y1) & (kp[:, 1] < y2)).all()
    # Image left to right: right ear, right eye, nose/mouth, left eye, left ear.
    assert kp[4, 0] < kp[0, 0] < kp[2, 0] < kp[1, 0] < kp[5, 0]
    assert kp[0, 1] < kp[2, 1] < kp[3, 1]  # eyes above the nose above the mouth
