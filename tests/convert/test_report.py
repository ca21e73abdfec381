"""Agreement metrics and the conversion report (no TensorFlow needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from camera_app.convert.report import ConversionReport, compare_output
from camera_app.inference.types import TensorInfo


def _probs(*rows: list[float]) -> list[np.ndarray]:
    return [np.array([row], np.float32) for row in rows]


@pytest.mark.parametrize(
    ("reference", "converted", "top1"),
    [
        (_probs([0.1, 0.9], [0.8, 0.2]), _probs([0.1, 0.9], [0.8, 0.2]), 1.0),
        (_probs([0.1, 0.9], [0.8, 0.2]), _probs([0.6, 0.4], [0.8, 0.2]), 0.5),
        (_probs([0.1, 0.9], [0.8, 0.2]), _probs([0.9, 0.1], [0.2, 0.8]), 0.0),
    ],
)
def test_top1_agreement(
    reference: list[np.ndarray], converted: list[np.ndarray], top1: float
) -> None:
    result = compare_output("probs", reference, converted)
    assert result.top1_agreement == pytest.approx(top1)
    assert result.box_iou_mean is None
    assert result.shape == (1, 2)


def test_errors() -> None:
    result = compare_output("probs", _probs([0.1, 0.9]), _probs([0.15, 0.85]))
    assert result.max_abs_error == pytest.approx(0.05, abs=1e-6)
    assert result.mean_abs_error == pytest.approx(0.05, abs=1e-6)


def _boxes(*boxes: list[float]) -> list[np.ndarray]:
    return [np.array([boxes], np.float32)]


@pytest.mark.parametrize(
    ("reference", "converted", "iou_mean", "iou_min"),
    [
        (_boxes([0, 0, 1, 1]), _boxes([0, 0, 1, 1]), 1.0, 1.0),
        (_boxes([0, 0, 1, 1]), _boxes([0, 0, 0.5, 1]), 0.5, 0.5),
        (_boxes([0, 0, 0.5, 0.5], [0, 0, 1, 1]), _boxes([0.5, 0.5, 1, 1], [0, 0, 1, 1]), 0.5, 0.0),
        # Corner order does not matter as long as both use the same.
        (_boxes([1, 1, 0, 0]), _boxes([0.5, 1, 0, 0]), 0.5, 0.5),
        # Two empty boxes at the same place agree.
        (_boxes([0.2, 0.2, 0.2, 0.2]), _boxes([0.2, 0.2, 0.2, 0.2]), 1.0, 1.0),
    ],
)
def test_box_iou(
    reference: list[np.ndarray], converted: list[np.ndarray], iou_mean: float, iou_min: float
) -> None:
    result = compare_output("boxes", reference, converted)
    assert result.box_iou_mean == pytest.approx(iou_mean)
    assert result.box_iou_min == pytest.approx(iou_min)
    assert result.top1_agreement is None


def test_report_text_and_json() -> None:
    report = ConversionReport(
        saved_model_dir="sm",
        output_path="m.tflite",
        quantize="int8",
        io_dtype="uint8",
        supported_ops=["TFLITE_BUILTINS_INT8"],
        size_before_bytes=4 << 20,
        size_after_bytes=1 << 20,
        inputs=[TensorInfo("in", 0, (1, 8, 8, 3), np.dtype(np.uint8), 1 / 255, 0)],
        outputs=[TensorInfo("out", 5, (1, 2), np.dtype(np.uint8), 1 / 256, 0)],
        convert_seconds=1.5,
        calibration_source="clip.mp4",
        calibration_frames=10,
        agreement_inputs="calibration frames",
        agreement_samples=10,
        agreement=[compare_output("out", _probs([0.1, 0.9]), _probs([0.1, 0.9]))],
        invoke_ms_mean=2.5,
        num_threads=4,
        runtime="ai_edge_litert",
        labels_member="labels.txt",
        labels_count=2,
    )
    data = json.loads(json.dumps(report.to_json()))
    assert data["size_ratio"] == 0.25
    assert data["inputs"][0]["dtype"] == "uint8"
    assert data["calibration"] == {"source": "clip.mp4", "frames": 10}
    assert data["agreement"]["outputs"][0]["top1_agreement"] == 1.0
    assert data["labels"] == {"member": "labels.txt", "count": 2}
    text = report.to_text()
    for expected in (
        "quantize: int8, io uint8",
        "4.00 MiB SavedModel -> 1.00 MiB (25%)",
        "uint8 (scale 0.00392157, zero point 0)",
        "10 calibration frames",
        "top-1 agreement 100.0%",
        "2.50 ms mean with ai_edge_litert, 4 threads",
        "labels: 2 packed as labels.txt",
    ):
        assert expected in text
