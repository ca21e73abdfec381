"""The tflite-runtime fallback, for real, in a separate venv without LiteRT.

tflite-runtime stopped at 2.14 (Python <= 3.11, numpy < 2), so it cannot
share the main venv (numpy 2, LiteRT). The venv is made by::

    python3 -m venv .venv-tflite
    .venv-tflite/bin/pip install tflite-runtime==2.14.0 "numpy<2" "opencv-python-headless<4.11"
    .venv-tflite/bin/pip install --no-deps -e .

Its path is ``$CAMERA_APP_TFLITE_VENV`` (default ``<repo>/.venv-tflite``);
without it these tests skip and say how to make it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import cv2
import pytest

from camera_app.inference.model import Model, ModelOptions

REPO = Path(__file__).resolve().parents[2]
VENV_ENV = "CAMERA_APP_TFLITE_VENV"
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
MOBILENET = "mobilenet_v2_1.0_224_quant.tflite"
MAKE_VENV = (
    'python3 -m venv .venv-tflite && .venv-tflite/bin/pip install tflite-runtime==2.14.0 "numpy<2" '
    '"opencv-python-headless<4.11" && .venv-tflite/bin/pip install --no-deps -e .'
)


@pytest.fixture(scope="module")
def venv_python() -> Path:
    venv = Path(os.environ.get(VENV_ENV, REPO / ".venv-tflite"))
    python = venv / "bin" / "python"
    if not python.is_file():
        pytest.skip(
            f"tflite-runtime venv not found: {venv} (set {VENV_ENV}, or make it: {MAKE_VENV})"
        )
    return python


def in_venv(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def camera_app(python: Path, *args: str, cwd: Path) -> list[dict[str, Any]]:
    proc = in_venv(python, "-m", "camera_app", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def venv_checked(venv_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv really lacks LiteRT and has tflite_runtime, so the fallback is what runs."""
    cwd = tmp_path_factory.mktemp("tflite")
    litert = in_venv(venv_python, "-c", "import ai_edge_litert", cwd=cwd)
    assert litert.returncode != 0, (
        f"{venv_python} has ai_edge_litert: the fallback would not be exercised"
    )
    assert "No module named 'ai_edge_litert'" in litert.stderr
    probe = "import tflite_runtime, numpy, camera_app; print(tflite_runtime.__version__, numpy.__version__)"
    found = in_venv(venv_python, "-c", probe, cwd=cwd)
    assert found.returncode == 0, found.stderr
    return cwd


def test_inspect_reports_tflite_runtime(
    venv_python: Path, venv_checked: Path, models_dir: Path
) -> None:
    (d,) = camera_app(venv_python, "inspect", str(models_dir / SSD), "--json", cwd=venv_checked)
    assert d["runtime"] == "tflite_runtime"
    assert d["runtime_version"].startswith("2.14")
    assert d["family"] == "ssd"
    assert d["inputs"][0]["dtype"] == "uint8"


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_same_detections_as_litert(
    venv_python: Path, venv_checked: Path, models_dir: Path, images_dir: Path
) -> None:
    image = images_dir / "kite_and_cold.jpg"
    labels = models_dir / "coco_labels.txt"
    (record,) = camera_app(
        venv_python,
        "detect",
        str(models_dir / SSD),
        str(image),
        "--json",
        "--labels",
        str(labels),
        cwd=venv_checked,
    )
    fallback = record["detections"]
    with Model(ModelOptions(path=str(models_dir / SSD), labels=str(labels))) as model:
        assert model.runtime.name == "ai_edge_litert"
        litert = model.infer_image(cv2.imread(str(image))).payload()["detections"]
    assert len(litert) >= 8
    assert sorted(d["label"] for d in fallback) == sorted(d["label"] for d in litert)
    # Pair each detection with the same-label LiteRT box it overlaps most.
    unmatched = list(litert)
    for d in fallback:
        best = max(
            (o for o in unmatched if o["label"] == d["label"]),
            key=lambda o: iou(o["xyxy"], d["xyxy"]),
        )
        assert iou(best["xyxy"], d["xyxy"]) >= 0.6, (d, best)  # 1 px on a 17x10 kite is 0.78
        assert abs(best["score"] - d["score"]) <= 0.02, (d, best)
        unmatched.remove(best)


def test_classifier_under_tflite_runtime(
    venv_python: Path, venv_checked: Path, models_dir: Path, images_dir: Path
) -> None:
    (record,) = camera_app(
        venv_python,
        "detect",
        str(models_dir / MOBILENET),
        str(images_dir / "cat.bmp"),
        "--json",
        cwd=venv_checked,
    )
    top = record["classes"][0]
    assert (top["class_id"], top["label"]) == (286, "Egyptian cat")
    with Model(ModelOptions(path=str(models_dir / MOBILENET))) as model:
        litert = model.infer_image(cv2.imread(str(images_dir / "cat.bmp"))).payload()["classes"][0]
    assert litert["class_id"] == 286
    # The two runtimes' quantised kernels differ by a few output steps (1/256 each).
    assert abs(top["score"] - litert["score"]) <= 0.03
