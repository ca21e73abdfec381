"""Golden tests of Model on the real fixtures, family detection, describe()."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference import decoders
from camera_app.inference.model import Model, ModelOptions
from camera_app.inference.types import ModelInfo, TensorInfo
from camera_app.results import FrameResult

REPO = Path(__file__).resolve().parents[2]
BLAZEFACE = REPO / "models" / "face_detection_short_range.tflite"

SSD = "ssd_mobilenet_v1_coco_quant.tflite"
MOBILENET = "mobilenet_v2_1.0_224_quant.tflite"
MOVENET = "movenet_single_pose_lightning_ptq.tflite"
DEEPLAB = "deeplabv3_mnv2_dm05_pascal_quant.tflite"
COCO_FILES = ("coco_labels.txt", "coco_labels_id_name.txt", "coco_labelmap_unknown_first.txt")


def run(model: Model, image: Path) -> FrameResult:
    bgr = cv2.imread(str(image))
    assert bgr is not None, image
    return model.infer_image(bgr, name=image.name)


@pytest.fixture(scope="module")
def ssd_models(models_dir: Path) -> Iterator[dict[str, Model]]:
    models = {
        f: Model(
            ModelOptions(path=str(models_dir / SSD), labels=str(models_dir / f), threshold=0.4)
        )
        for f in COCO_FILES
    }
    yield models
    for m in models.values():
        m.close()


def named(result: FrameResult, threshold: float = 0.0) -> list[tuple[str | None, float]]:
    return [
        (d["label"], d["score"]) for d in result.payload()["detections"] if d["score"] >= threshold
    ]


# -- SSD ------------------------------------------------------------------------------


def test_ssd_kite_and_cold(ssd_models: dict[str, Model], images_dir: Path) -> None:
    results = {f: run(m, images_dir / "kite_and_cold.jpg") for f, m in ssd_models.items()}
    first = results[COCO_FILES[0]]
    counts = Counter(label for label, _ in named(first, 0.5))
    assert counts["person"] >= 4
    assert counts["kite"] >= 4
    w, h = first.frame.size_wh
    xyxy = first.detections.xyxy
    assert len(xyxy) >= 8
    assert np.all(xyxy[:, 0] >= 0) and np.all(xyxy[:, 2] <= w)
    assert np.all(xyxy[:, 1] >= 0) and np.all(xyxy[:, 3] <= h)
    assert np.all(xyxy[:, 2] > xyxy[:, 0]) and np.all(xyxy[:, 3] > xyxy[:, 1])
    assert np.all(np.diff(first.detections.confidence) <= 0), "best first"
    # Every labels file names the same detections the same way.
    for f in COCO_FILES[1:]:
        assert [n for n, _ in named(results[f])] == [n for n, _ in named(first)], f


@pytest.mark.parametrize(
    ("image", "expected", "top"),
    [
        ("grace_hopper.bmp", {"person", "tie"}, ("person", 0.72)),
        ("cat.bmp", {"cat"}, ("cat", 0.72)),
    ],
)
def test_ssd_photos(
    ssd_models: dict[str, Model],
    images_dir: Path,
    image: str,
    expected: set[str],
    top: tuple[str, float],
) -> None:
    found = named(run(ssd_models[COCO_FILES[0]], images_dir / image), 0.4)
    assert {label for label, _ in found} == expected
    assert found[0][0] == top[0]
    assert found[0][1] == pytest.approx(top[1], abs=0.04)


# -- MobileNet --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mobilenet(models_dir: Path) -> Iterator[Model]:
    with Model(ModelOptions(path=str(models_dir / MOBILENET))) as model:
        yield model


@pytest.mark.parametrize(
    ("image", "class_id", "label", "score"),
    [("cat.bmp", 286, "Egyptian cat", 0.84), ("grace_hopper.bmp", 653, "military uniform", 0.88)],
)
def test_mobilenet_top1(
    mobilenet: Model, images_dir: Path, image: str, class_id: int, label: str, score: float
) -> None:
    result = run(mobilenet, images_dir / image)
    classes = result.payload()["classes"]
    assert classes[0] == {
        "label": label,
        "class_id": class_id,
        "score": pytest.approx(score, abs=0.02),
    }
    assert len(classes) == 5
    assert [c["score"] for c in classes] == sorted((c["score"] for c in classes), reverse=True)


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_mobilenet_never_reports_background(mobilenet: Model, images_dir: Path, fill: int) -> None:
    assert mobilenet.labels is not None and mobilenet.labels.name(0) == "background"
    images = [np.full((224, 224, 3), fill, np.uint8), cv2.imread(str(images_dir / "cat.bmp"))]
    for image in images:
        result = mobilenet.infer_image(image)
        assert result.classes is not None and len(result.classes) > 0
        assert 0 not in result.classes.class_id.tolist()


# -- MoveNet and DeepLab ---------------------------------------------------------------------


def test_movenet_matches_reference(models_dir: Path, images_dir: Path) -> None:
    with open(models_dir / "movenet_single_pose_lightning_ptq_reference.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["keypoint_id"]))
    reference = np.array([[float(r["keypoint_x"]), float(r["keypoint_y"])] for r in rows])
    assert reference.shape == (17, 2)
    with Model(ModelOptions(path=str(models_dir / MOVENET))) as model:
        result = run(model, images_dir / "squat.bmp")
    assert result.family == "movenet"
    assert len(result.detections) == 1
    keypoints = result.detections.keypoints
    assert keypoints is not None and keypoints.shape == (1, 17, 3)
    normalised = keypoints[0, :, :2] / np.array(result.frame.size_wh, np.float32)
    assert np.abs(normalised - reference).max() <= 0.05
    assert len(result.payload()["keypoints"]) == 17


def test_deeplab_bird_iou(models_dir: Path, images_dir: Path) -> None:
    labels = models_dir / "pascal_voc_segmentation_labels.txt"
    with Model(ModelOptions(path=str(models_dir / DEEPLAB), labels=str(labels))) as model:
        result = run(model, images_dir / "bird_segmentation.bmp")
    assert result.mask is not None
    truth = cv2.imread(str(images_dir / "bird_segmentation_mask.bmp"), cv2.IMREAD_GRAYSCALE) > 0
    predicted = result.mask.resized() > 0
    assert predicted.shape == truth.shape
    iou = (truth & predicted).sum() / (truth | predicted).sum()
    assert iou >= 0.85
    assert result.labels is not None
    assert "bird" in {result.labels.name(c) for c in result.mask.classes_present()}


# -- family detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family"),
    [(SSD, "ssd"), (MOBILENET, "classification"), (MOVENET, "movenet"), (DEEPLAB, "segmentation")],
)
def test_family_detected(models_dir: Path, name: str, family: str) -> None:
    with Model(ModelOptions(path=str(models_dir / name))) as model:
        assert model.family == family
        assert decoders.detect_family(model.info) == family


def test_blazeface_family_detected() -> None:
    if not BLAZEFACE.is_file():
        pytest.skip(f"{BLAZEFACE} missing: run `make models`")
    with Model(ModelOptions(path=str(BLAZEFACE))) as model:
        assert model.family == "blazeface"
        assert model.labels is not None and model.labels.name(0) == "face"


def odd_info(*shapes: tuple[int, ...]) -> ModelInfo:
    return ModelInfo(
        path="odd.tflite",
        inputs=(TensorInfo("image", 0, (1, 224, 224, 3), np.dtype(np.uint8)),),
        outputs=tuple(
            TensorInfo(f"out{i}", 10 + i, s, np.dtype(np.float32)) for i, s in enumerate(shapes)
        ),
    )


@pytest.mark.parametrize(
    "shapes",
    [
        ((1,), (1, 5, 5, 5, 5)),
        ((1, 7), (1, 3, 3)),
        ((1, 1),),
        ((1, 2, 3, 4, 5),),
        ((1, 10, 4), (1, 10), (1, 10)),
    ],
)
def test_unknown_layout(shapes: tuple[tuple[int, ...], ...]) -> None:
    with pytest.raises(ModelError) as info:
        decoders.detect_family(odd_info(*shapes))
    message = str(info.value)
    assert "odd.tflite" in message
    for s in shapes:
        assert str(list(s)) in message
    assert "--family" in message and "model.family" in message
    assert "ssd" in message and "classification" in message
    assert "\n" not in message


def test_unknown_family_name() -> None:
    with pytest.raises(ModelError, match="unknown model family 'nosuch'"):
        decoders.decoder_class("nosuch")


# -- describe() ---------------------------------------------------------------------------------

TENSOR_KEYS = {"name", "shape", "dtype", "scale", "zero_point"}
DESCRIBE_KEYS = {"model", "runtime", "family", "inputs", "outputs", "signatures", "labels"}


@pytest.mark.parametrize(
    ("name", "labels", "input_dtype", "output_dtypes", "labels_count"),
    [
        (SSD, None, "uint8", ["float32"] * 4, None),
        (SSD, "coco_labels.txt", "uint8", ["float32"] * 4, 90),
        (MOBILENET, None, "uint8", ["uint8"], 1001),
        (DEEPLAB, None, "uint8", ["int64"], None),
        (MOVENET, None, "uint8", ["float32"], 1),
    ],
)
def test_describe_schema(
    models_dir: Path,
    name: str,
    labels: str | None,
    input_dtype: str,
    output_dtypes: list[str],
    labels_count: int | None,
) -> None:
    opts = ModelOptions(
        path=str(models_dir / name), labels=str(models_dir / labels) if labels else None
    )
    with Model(opts) as model:
        d = model.describe()
    assert DESCRIBE_KEYS <= set(d)
    json.dumps(d)  # serialisable as is
    assert d["model"] == str(models_dir / name)
    assert d["runtime"] == "ai_edge_litert"
    for t in d["inputs"] + d["outputs"]:
        assert set(t) == TENSOR_KEYS
        assert isinstance(t["shape"], list) and all(isinstance(x, int) for x in t["shape"])
        assert isinstance(t["scale"], float) and isinstance(t["zero_point"], int)
    assert [t["dtype"] for t in d["inputs"]] == [input_dtype]
    assert [t["dtype"] for t in d["outputs"]] == output_dtypes
    assert isinstance(d["signatures"], dict)
    if labels_count is None:
        assert d["labels"] is None
    else:
        assert {"source", "count"} <= set(d["labels"])
        assert d["labels"]["count"] == labels_count
