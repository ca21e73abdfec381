"""``camera-app inspect MODEL``: the JSON schema and the text form."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from camera_app.cli import main

REPO = Path(__file__).resolve().parents[2]
BLAZEFACE = REPO / "models" / "face_detection_short_range.tflite"
SSD = "ssd_mobilenet_v1_coco_quant.tflite"

TENSOR_KEYS = {"name", "shape", "dtype", "scale", "zero_point"}
NUMPY_DTYPES = {"uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool"}


def inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["inspect", *args, "--json"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, "one JSON object on one line"
    d = json.loads(lines[0])
    assert isinstance(d, dict)
    return d


# (model, extra args, family, input dtype, output dtypes, labels source suffix, labels count)
CASES = [
    (SSD, [], "ssd", "uint8", ["float32"] * 4, None, None),
    (SSD, ["--labels", "coco_labels.txt"], "ssd", "uint8", ["float32"] * 4, "coco_labels.txt", 90),
    (
        SSD,
        ["--labels", "coco_labelmap_unknown_first.txt"],
        "ssd",
        "uint8",
        ["float32"] * 4,
        "coco_labelmap_unknown_first.txt",
        90,
    ),
    (
        "mobilenet_v2_1.0_224_quant.tflite",
        [],
        "classification",
        "uint8",
        ["uint8"],
        "metadata:imagenet_labels.txt",
        1001,
    ),
    ("movenet_single_pose_lightning_ptq.tflite", [], "movenet", "uint8", ["float32"], "builtin", 1),
    ("deeplabv3_mnv2_dm05_pascal_quant.tflite", [], "segmentation", "uint8", ["int64"], None, None),
]


@pytest.mark.parametrize(
    ("model", "extra", "family", "in_dtype", "out_dtypes", "source", "count"), CASES
)
def test_inspect_json_schema(
    capsys: pytest.CaptureFixture[str],
    models_dir: Path,
    model: str,
    extra: list[str],
    family: str,
    in_dtype: str,
    out_dtypes: list[str],
    source: str | None,
    count: int | None,
) -> None:
    args = [str(models_dir / a) if a.endswith(".txt") else a for a in extra]
    d = inspect_json(capsys, str(models_dir / model), *args)
    assert {"model", "runtime", "family", "inputs", "outputs", "signatures", "labels"} <= set(d)
    assert d["model"] == str(models_dir / model)
    assert d["runtime"] == "ai_edge_litert"
    assert d["family"] == family
    inputs, outputs = d["inputs"], d["outputs"]
    assert isinstance(inputs, list) and isinstance(outputs, list)
    for t in inputs + outputs:
        assert set(t) == TENSOR_KEYS
        assert t["dtype"] in NUMPY_DTYPES
        assert isinstance(t["name"], str)
        assert all(isinstance(x, int) for x in t["shape"])
        assert isinstance(t["scale"], float)
        assert isinstance(t["zero_point"], int)
    assert [t["dtype"] for t in inputs] == [in_dtype]
    assert [t["dtype"] for t in outputs] == out_dtypes
    assert isinstance(d["signatures"], dict)
    labels = d["labels"]
    if source is None:
        assert labels is None
    else:
        assert isinstance(labels, dict)
        assert {"source", "count"} <= set(labels)
        assert str(labels["source"]).endswith(source)
        assert labels["count"] == count


def test_inspect_ssd_tensors(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    d = inspect_json(capsys, str(models_dir / SSD))
    assert d["inputs"] == [
        {
            "name": "normalized_input_image_tensor",
            "shape": [1, 300, 300, 3],
            "dtype": "uint8",
            "scale": 0.0078125,
            "zero_point": 128,
        }
    ]
    assert [t["shape"] for t in d["outputs"]] == [[1, 10, 4], [1, 10], [1, 10], [1]]  # type: ignore[index]


def test_inspect_movenet_signature(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    d = inspect_json(capsys, str(models_dir / "movenet_single_pose_lightning_ptq.tflite"))
    assert "serving_default" in d["signatures"]  # type: ignore[operator]


def test_inspect_blazeface(capsys: pytest.CaptureFixture[str]) -> None:
    if not BLAZEFACE.is_file():
        pytest.skip(f"{BLAZEFACE} missing: run `make models`")
    d = inspect_json(capsys, str(BLAZEFACE))
    assert d["family"] == "blazeface"
    assert [t["dtype"] for t in d["inputs"]] == ["float32"]  # type: ignore[index]


def test_inspect_family_override(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    model = str(models_dir / "deeplabv3_mnv2_dm05_pascal_quant.tflite")
    assert inspect_json(capsys, model, "--family", "segmentation")["family"] == "segmentation"


def test_inspect_text(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    assert (
        main(["inspect", str(models_dir / SSD), "--labels", str(models_dir / "coco_labels.txt")])
        == 0
    )
    out = capsys.readouterr().out
    assert "family:   ssd" in out
    assert "[1, 300, 300, 3] uint8" in out
    assert "scale 0.0078125, zero point 128" in out
    assert "coco_labels.txt (90 ids" in out
    assert "runtime:  ai_edge_litert" in out


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        (["/nonexistent/model.tflite"], "model file not found", 2),
        (["MODELS"], "not a file", 2),
        (["MODELS/coco_labels.txt"], "not a TFLite model", 2),
        (["MODELS/" + SSD, "--family", "nosuch"], "--family: expected one of", 2),
        (["MODELS/" + SSD, "--labels", "/nonexistent/labels.txt"], "labels file not found", 2),
        (["MODELS/" + SSD, "--threads", "0"], "--threads", 2),
        ([], "required", 2),
    ],
)
def test_inspect_errors(
    cli_error: Callable[[list[str]], tuple[int, str]],
    models_dir: Path,
    args: list[str],
    expected: str,
    code: int | None,
) -> None:
    argv = ["inspect", *(a.replace("MODELS", str(models_dir)) for a in args)]
    rc, line = cli_error(argv)
    if code is not None:
        assert rc == code
    assert expected in line
