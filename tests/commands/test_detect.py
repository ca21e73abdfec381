"""``camera-app detect MODEL IMAGE...``: JSON lines, annotation, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.cli import main

REPO = Path(__file__).resolve().parents[2]
BLAZEFACE = REPO / "models" / "face_detection_short_range.tflite"
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
MOBILENET = "mobilenet_v2_1.0_224_quant.tflite"
MOVENET = "movenet_single_pose_lightning_ptq.tflite"
DEEPLAB = "deeplabv3_mnv2_dm05_pascal_quant.tflite"
RECORD_KEYS = {"image", "size_wh", "family", "inference_ms", "detections"}
DETECTION_KEYS = {"label", "class_id", "score", "xyxy"}


def detect_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["detect", *args, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_detect_json_lines(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path
) -> None:
    images = [
        images_dir / n for n in ("kite_and_cold.jpg", "grace_hopper.bmp", "cat.bmp", "face.jpg")
    ]
    records = detect_json(
        capsys,
        str(models_dir / SSD),
        *map(str, images),
        "--labels",
        str(models_dir / "coco_labels.txt"),
        "--threshold",
        "0.4",
    )
    assert [r["image"] for r in records] == [str(p) for p in images]
    for record, path in zip(records, images, strict=True):
        assert RECORD_KEYS <= set(record)
        h, w = cv2.imread(str(path)).shape[:2]
        assert record["size_wh"] == [w, h]
        assert record["family"] == "ssd"
        assert isinstance(record["inference_ms"], float) and record["inference_ms"] > 0
        assert record["detections"], path.name
        for d in record["detections"]:
            assert set(d) == DETECTION_KEYS
            assert isinstance(d["class_id"], int) and 0.4 <= d["score"] <= 1.0
            x1, y1, x2, y2 = d["xyxy"]
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    labels = [Counter(d["label"] for d in r["detections"]) for r in records]
    assert labels[0]["person"] >= 4 and labels[0]["kite"] >= 4
    assert {"person", "tie"} <= set(labels[1])
    assert set(labels[2]) == {"cat"}
    assert labels[3]["person"] >= 5


def test_detect_json_classifier(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path
) -> None:
    (record,) = detect_json(capsys, str(models_dir / MOBILENET), str(images_dir / "cat.bmp"))
    assert record["family"] == "classification"
    assert record["detections"] == []
    assert record["classes"][0]["label"] == "Egyptian cat"


def test_detect_json_pose(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path
) -> None:
    (record,) = detect_json(capsys, str(models_dir / MOVENET), str(images_dir / "squat.bmp"))
    assert record["family"] == "movenet"
    assert len(record["detections"]) == 1
    assert record["detections"][0]["label"] == "person"
    assert len(record["keypoints"]) == 17


def test_detect_text(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path
) -> None:
    argv = [
        "detect",
        str(models_dir / SSD),
        str(images_dir / "cat.bmp"),
        "--labels",
        str(models_dir / "coco_labels.txt"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cat.bmp (512x341, ssd," in out
    assert "  cat 0.7" in out


@pytest.mark.parametrize(
    ("model", "image", "labels"),
    [
        (SSD, "kite_and_cold.jpg", "coco_labels.txt"),
        (MOBILENET, "cat.bmp", None),
        (MOVENET, "squat.bmp", None),
        (DEEPLAB, "bird_segmentation.bmp", "pascal_voc_segmentation_labels.txt"),
    ],
)
def test_annotate_writes_images(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    models_dir: Path,
    images_dir: Path,
    model: str,
    image: str,
    labels: str | None,
) -> None:
    out_dir = tmp_path / "new" / "annotated"
    argv = ["detect", str(models_dir / model), str(images_dir / image), "--annotate", str(out_dir)]
    if labels:
        argv += ["--labels", str(models_dir / labels)]
    assert main(argv) == 0
    capsys.readouterr()
    written = sorted(out_dir.iterdir())
    assert [p.name for p in written] == [Path(image).stem + ".jpg"]
    annotated = cv2.imread(str(written[0]))
    original = cv2.imread(str(images_dir / image))
    assert annotated is not None and annotated.shape == original.shape
    # Something was drawn: far more changed pixels than JPEG noise gives.
    _, plain = cv2.imencode(".jpg", original)
    changed = (
        np.abs(annotated.astype(int) - cv2.imdecode(plain, cv2.IMREAD_COLOR).astype(int)).max(
            axis=2
        )
        > 60
    )
    assert changed.sum() > 200


def test_annotate_blazeface(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, images_dir: Path
) -> None:
    if not BLAZEFACE.is_file():
        pytest.skip(f"{BLAZEFACE} missing: run `make models`")
    assert (
        main(["detect", str(BLAZEFACE), str(images_dir / "face.jpg"), "--annotate", str(tmp_path)])
        == 0
    )
    capsys.readouterr()
    assert cv2.imread(str(tmp_path / "face.jpg")) is not None


@pytest.mark.parametrize(
    ("model", "family"),
    [(MOBILENET, "classification"), (SSD, "ssd"), (DEEPLAB, "segmentation")],
)
def test_family_override(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path, model: str, family: str
) -> None:
    (record,) = detect_json(
        capsys, str(models_dir / model), str(images_dir / "cat.bmp"), "--family", family
    )
    assert record["family"] == family


# -- errors ---------------------------------------------------------------------------------------


def _truncated(tmp: Path, models: Path) -> Path:
    p = tmp / "truncated.tflite"
    p.write_bytes((models / SSD).read_bytes()[:100_000])
    return p


def _text(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


# argv templates: MODELS, IMAGES and TMP are replaced; (argv, words in the error, exit code or None)
ERROR_CASES = [
    (["/nonexistent/model.tflite", "IMAGES/cat.bmp"], "model file not found", 2),
    (["MODELS/coco_labels.txt", "IMAGES/cat.bmp"], "not a TFLite model", 2),
    (["TMP/truncated.tflite", "IMAGES/cat.bmp"], "cannot be loaded", 2),
    (["MODELS/" + SSD, "TMP/not_an_image.jpg"], "cannot be read", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "TMP/not_an_image.jpg"], "cannot be read", 2),
    (["MODELS/" + SSD, "/nonexistent/photo.jpg"], "image not found", 2),
    (["MODELS/" + SSD, "IMAGES"], "not a file", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--family", "nosuch"], "--family: expected one of", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--family", "classification"], "not a classifier", None),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--labels", "TMP/latin1.txt"], "not UTF-8", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--labels", "TMP/dup_ids.txt"], "line 3", 2),
    (
        ["MODELS/" + SSD, "IMAGES/cat.bmp", "--labels", "/nonexistent/l.txt"],
        "labels file not found",
        2,
    ),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--threshold", "2"], "--threshold", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--threshold", "x"], "--threshold", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--threads", "-1"], "--threads", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--annotate", "TMP/not_an_image.jpg"], "not a folder", 2),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--delegate", "/nonexistent/libd.so"], "libd.so", None),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--delegate", "edgetpu:usb"], "libedgetpu", None),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--delegate", "libm.so.6"], "libm.so.6", None),
    (["MODELS/" + SSD, "IMAGES/cat.bmp", "--delegate", "/x.so;oops"], "key=value", None),
    (["MODELS/" + SSD], "required", 2),
]


def _argv(template: list[str], models: Path, images: Path, tmp: Path) -> list[str]:
    _truncated(tmp, models)
    _text(tmp, "not_an_image.jpg", b"this is text\n")
    _text(tmp, "latin1.txt", "caf\u00e9\n".encode("latin-1"))
    _text(tmp, "dup_ids.txt", b"0 person\n1 bicycle\n1 car\n")
    subst = {"MODELS": str(models), "IMAGES": str(images), "TMP": str(tmp)}
    out = []
    for arg in template:
        for key, value in subst.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return ["detect", *out]


@pytest.mark.parametrize(("template", "expected", "code"), ERROR_CASES)
def test_detect_errors(
    cli_error: Callable[[list[str]], tuple[int, str]],
    tmp_path: Path,
    models_dir: Path,
    images_dir: Path,
    template: list[str],
    expected: str,
    code: int | None,
) -> None:
    argv = _argv(template, models_dir, images_dir, tmp_path)
    try:
        rc, line = cli_error(argv)
    except AssertionError:
        raise
    except Exception as e:  # main() lets non-CameraAppError through: a traceback for the user
        pytest.fail(f"uncaught {type(e).__name__}: {e} (the user would see a traceback)")
    if code is not None:
        assert rc == code
    assert expected in line


@pytest.mark.parametrize(
    "template",
    [
        ["MODELS/" + SSD, "/nonexistent/photo.jpg"],
        ["/nonexistent/model.tflite", "IMAGES/cat.bmp"],
        ["MODELS/" + SSD, "IMAGES/cat.bmp", "--threshold", "2"],
        # Known before the model is loaded, so nothing else should reach stderr:
        ["MODELS/" + SSD, "IMAGES/cat.bmp", "--family", "nosuch"],
        ["MODELS/" + SSD, "IMAGES/cat.bmp", "--labels", "TMP/latin1.txt"],
    ],
)
def test_one_line_on_the_real_stderr(
    tmp_path: Path, models_dir: Path, images_dir: Path, template: list[str]
) -> None:
    """What a user sees in a terminal, native runtime logging included."""
    argv = _argv(template, models_dir, images_dir, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "camera_app", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("camera-app: error:")


def test_annotate_keeps_images_with_the_same_name(
    capsys: pytest.CaptureFixture[str], models_dir: Path, images_dir: Path, tmp_path: Path
) -> None:
    for name, src in (("a", "cat.bmp"), ("b", "grace_hopper.bmp")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.bmp").write_bytes((images_dir / src).read_bytes())
    out = tmp_path / "out"
    code = main(
        [
            "detect",
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            str(tmp_path / "a" / "x.bmp"),
            str(tmp_path / "b" / "x.bmp"),
            "--annotate",
            str(out),
        ]
    )
    assert code == 0
    shapes = {p.name: cv2.imread(str(p)).shape for p in out.iterdir()}
    assert shapes == {"x.jpg": (341, 512, 3), "x-2.jpg": (600, 512, 3)}  # cat, grace_hopper


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ("-1", "--label-offset: expected an integer from 0 to 1000, got -1"),  # the flag's bounds
        ("90", "expected 0 to 89"),  # the labels file's: known once it is read
    ],
)
def test_label_offset_out_of_range(
    capsys: pytest.CaptureFixture[str],
    models_dir: Path,
    images_dir: Path,
    offset: str,
    expected: str,
) -> None:
    code = main(
        [
            "detect",
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            str(images_dir / "cat.bmp"),
            "--labels",
            str(models_dir / "coco_labels.txt"),
            "--label-offset",
            offset,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err
