"""camera_app.convert on small Keras models: every quantisation mode, Flex ops, bad inputs.

Needs TensorFlow (the ``convert`` extra); CI installs it, so a skip here is
a missing install step, not a pass.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip(
    "tensorflow", reason="TensorFlow not installed: pip install -e '.[convert]' (CI must)"
)
keras = pytest.importorskip("keras", reason="Keras (ships with TensorFlow) not installed")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from camera_app.convert import (  # noqa: E402
    ConvertOptions,
    calibration_batches,
    convert,
    iter_calibration_frames,
)
from camera_app.errors import ModelError  # noqa: E402
from camera_app.inference.labels import metadata_labels  # noqa: E402

INPUT_WH = (64, 64)
SCENE_VIDEOS = (
    "bottle-detection.mp4",
    "one-by-one-person-detection.mp4",
    "face-demographics-walking.gif",
    "head-pose-face-detection-female.gif",
)
NUM_CLASSES = 1 + len(SCENE_VIDEOS)  # the photos, then one class per video
TRAIN_EPOCHS = 80  # a few seconds on 2 cores; gives confident, varied predictions
NUM_BOXES = 5
CLASSIFIER_OUTPUT = "output_0"  # Keras names a model's single output so in the signature
CALIBRATION_VIDEO = "face-demographics-walking.gif"  # 35 frames of people walking
CALIBRATION_FRAMES = 24  # spread over the GIF; enough for int8, keeps the module fast

# Tolerances, each against the SavedModel on the same inputs.
# float32 TFLite runs the same maths in another order: rounding noise only.
FLOAT32_MAX_ABS_ERR = 1e-5
# float16 weights carry ~3 significant digits; softmax outputs stay within 1e-2.
FLOAT16_MAX_ABS_ERR = 1e-2
# dynamic range: int8 weights (per channel) with float activations.
DYNAMIC_MAX_ABS_ERR = 3e-2
# int8: activations too are 8-bit; a confident softmax amplifies the logit
# error (0.09 seen at most), and the arg-max class must stay the same on
# (nearly) all calibration frames.
INT8_MAX_ABS_ERR = 0.15
INT8_TOP1_AGREEMENT = 0.9
# Float modes keep the arg-max class on every frame.
FLOAT_TOP1_AGREEMENT = 1.0
# int8 boxes (sigmoid outputs quantised to 1/256 steps) must overlap the
# SavedModel's boxes almost exactly; boxes are ~half the image wide.
INT8_BOX_IOU_MEAN = 0.9
FLOAT_BOX_IOU_MEAN = 0.99


def _backbone(inputs: Any) -> Any:
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    return keras.layers.GlobalAveragePooling2D()(x)


@pytest.fixture(scope="module")
def scenes_dir(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    """A folder of varied images: the photos plus frames spread over each video.

    Named ``<scene>_<n>.png``; the scene (0 = photos, 1.. = one per video) is
    what the test classifier learns, so its predictions differ from image to
    image and top-1 agreement measures something.
    """
    folder = tmp_path_factory.mktemp("scenes")
    images = sorted(p for p in (fixtures_dir / "images").iterdir() if p.suffix in (".bmp", ".jpg"))
    for n, path in enumerate(images):
        cv2.imwrite(str(folder / f"0_{n:02d}.png"), cv2.imread(str(path)))
    for scene, video in enumerate(SCENE_VIDEOS, start=1):
        for n, frame in enumerate(iter_calibration_frames(str(fixtures_dir / "videos" / video), 6)):
            cv2.imwrite(str(folder / f"{scene}_{n:02d}.png"), frame)
    return folder


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory, scenes_dir: Path) -> Path:
    """A small conv classifier ending in softmax, trained for a few seconds to
    tell the scenes apart (random weights give the same near-uniform
    probabilities for every image), exported as a SavedModel."""
    paths = sorted(scenes_dir.iterdir())
    frames = [cv2.imread(str(p)) for p in paths]
    x = np.concatenate(calibration_batches(frames, INPUT_WH))
    y = np.array([int(p.name.split("_")[0]) for p in paths])
    keras.utils.set_random_seed(0)
    inputs = keras.Input((*INPUT_WH[::-1], 3), name="image")
    logits = keras.layers.Dense(NUM_CLASSES)(_backbone(inputs))
    model = keras.Model(inputs, keras.layers.Softmax(name="probs")(logits))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=TRAIN_EPOCHS, batch_size=8, verbose=0)
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    # Precondition: several classes predicted, or top-1 agreement is vacuous.
    assert len(set(predicted.tolist())) >= 3, f"classifier predicts {np.bincount(predicted)}"
    path = tmp_path_factory.mktemp("classifier") / "saved_model"
    model.export(str(path), verbose=False)
    return path


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A detector-shaped head: boxes [1, K, 4] in [0, 1] via sigmoid, scores [1, K]."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((*INPUT_WH[::-1], 3), name="image")
    features = _backbone(inputs)
    # Bias (-1, -1, 1, 1) puts boxes around (0.27, 0.27, 0.73, 0.73): real
    # areas, so IoU measures the coordinates rather than degenerate boxes.
    bias = keras.initializers.Constant(np.tile([-1.0, -1.0, 1.0, 1.0], NUM_BOXES))
    boxes = keras.layers.Dense(NUM_BOXES * 4, activation="sigmoid", bias_initializer=bias)(features)
    boxes = keras.layers.Reshape((NUM_BOXES, 4), name="boxes")(boxes)
    scores = keras.layers.Dense(NUM_BOXES, activation="sigmoid", name="scores")(features)
    path = tmp_path_factory.mktemp("detector") / "saved_model"
    keras.Model(inputs, {"boxes": boxes, "scores": scores}).export(str(path), verbose=False)
    return path


class _HsvModel(tf.Module):
    """Image in, per-channel mean of its HSV image out: tf.image.rgb_to_hsv is a
    Select TF op (RGBToHSV), not a TFLite builtin."""

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 3], tf.float32, name="image")])
    def serve(self, image: Any) -> dict[str, Any]:
        return {"hsv_mean": tf.reduce_mean(tf.image.rgb_to_hsv(image), axis=[1, 2])}


@pytest.fixture(scope="module")
def flex_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module = _HsvModel()
    path = tmp_path_factory.mktemp("flex") / "saved_model"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


@pytest.fixture(scope="module")
def calibration(videos_dir: Path) -> str:
    return str(videos_dir / CALIBRATION_VIDEO)


def _agreement(report: Any, name: str) -> Any:
    by_name = {a.name: a for a in report.agreement}
    assert name in by_name, f"no agreement for {name!r}: {sorted(by_name)}"
    return by_name[name]


def _litert(path: Path) -> Any:
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    return interp


# mode, io_dtype, expected input dtype, max abs error, top-1 agreement
CLASSIFIER_CASES = [
    ("none", "float32", np.float32, FLOAT32_MAX_ABS_ERR, FLOAT_TOP1_AGREEMENT),
    ("float16", "float32", np.float32, FLOAT16_MAX_ABS_ERR, FLOAT_TOP1_AGREEMENT),
    ("dynamic", "float32", np.float32, DYNAMIC_MAX_ABS_ERR, FLOAT_TOP1_AGREEMENT),
    ("int8", "float32", np.float32, INT8_MAX_ABS_ERR, INT8_TOP1_AGREEMENT),
    ("int8", "uint8", np.uint8, INT8_MAX_ABS_ERR, INT8_TOP1_AGREEMENT),
    ("int8", "int8", np.int8, INT8_MAX_ABS_ERR, INT8_TOP1_AGREEMENT),
]


@pytest.mark.parametrize(
    ("quantize", "io_dtype", "input_dtype", "max_err", "top1"), CLASSIFIER_CASES
)
def test_classifier_each_mode(
    classifier_dir: Path,
    scenes_dir: Path,
    tmp_path: Path,
    quantize: str,
    io_dtype: str,
    input_dtype: type,
    max_err: float,
    top1: float,
) -> None:
    out = tmp_path / f"classifier_{quantize}_{io_dtype}.tflite"
    options = ConvertOptions(
        quantize=quantize,  # type: ignore[arg-type]
        io_dtype=io_dtype,  # type: ignore[arg-type]
        calibration=str(scenes_dir),
        num_threads=2,
    )
    report = convert(classifier_dir, out, options)

    interp = _litert(out)
    (inp,) = interp.get_input_details()
    (outp,) = interp.get_output_details()
    assert inp["dtype"] == input_dtype
    assert list(inp["shape"]) == [1, INPUT_WH[1], INPUT_WH[0], 3]
    assert outp["dtype"] == input_dtype  # io_dtype applies to outputs too
    assert report.inputs[0].dtype == np.dtype(input_dtype)
    if io_dtype == "uint8":
        # Calibration is pinned to the full pixel range: raw pixels map 1:1.
        scale, zero_point = inp["quantization"]
        assert scale == pytest.approx(1 / 255, rel=1e-4)
        assert zero_point == 0

    agreement = _agreement(report, CLASSIFIER_OUTPUT)
    assert report.agreement_inputs == "calibration frames"
    assert report.agreement_samples == len(list(scenes_dir.iterdir()))
    assert agreement.max_abs_error < max_err
    assert agreement.top1_agreement is not None and agreement.top1_agreement >= top1
    assert report.invoke_ms_mean is not None and report.invoke_ms_mean > 0
    assert report.num_threads == 2
    assert report.size_after_bytes == out.stat().st_size
    assert report.size_before_bytes > 0
    json_report = report.to_json()
    assert json_report["quantize"] == quantize
    assert json_report["agreement"]["outputs"][0]["name"] == CLASSIFIER_OUTPUT
    assert f"quantize: {quantize}" in report.to_text()


# mode, io_dtype, box IoU mean, scores max abs error
DETECTOR_CASES = [
    ("none", "float32", FLOAT_BOX_IOU_MEAN, FLOAT32_MAX_ABS_ERR),
    ("float16", "float32", FLOAT_BOX_IOU_MEAN, FLOAT16_MAX_ABS_ERR),
    ("dynamic", "float32", FLOAT_BOX_IOU_MEAN, DYNAMIC_MAX_ABS_ERR),
    ("int8", "uint8", INT8_BOX_IOU_MEAN, INT8_MAX_ABS_ERR),
]


@pytest.mark.parametrize(("quantize", "io_dtype", "iou", "score_err"), DETECTOR_CASES)
def test_detector_boxes_agree(
    detector_dir: Path,
    calibration: str,
    tmp_path: Path,
    quantize: str,
    io_dtype: str,
    iou: float,
    score_err: float,
) -> None:
    out = tmp_path / "detector.tflite"
    options = ConvertOptions(
        quantize=quantize,  # type: ignore[arg-type]
        io_dtype=io_dtype,  # type: ignore[arg-type]
        calibration=calibration,
        calibration_frames=CALIBRATION_FRAMES,
    )
    report = convert(detector_dir, out, options)
    boxes = _agreement(report, "boxes")
    scores = _agreement(report, "scores")
    assert boxes.shape == (1, NUM_BOXES, 4)
    assert boxes.box_iou_mean is not None and boxes.box_iou_mean >= iou
    assert scores.max_abs_error < score_err
    shapes = sorted(tuple(t.shape) for t in report.outputs)
    assert shapes == [(1, NUM_BOXES), (1, NUM_BOXES, 4)]


def test_random_inputs_without_calibration(classifier_dir: Path, tmp_path: Path) -> None:
    report = convert(classifier_dir, tmp_path / "m.tflite", ConvertOptions(random_samples=5))
    assert report.agreement_inputs == "random pixels"
    assert report.agreement_samples == 5
    assert _agreement(report, CLASSIFIER_OUTPUT).max_abs_error < FLOAT32_MAX_ABS_ERR
    assert report.calibration_source is None


SCENE_LABELS = ["photo", "bottles", "office", "walking", "head pose"]


def test_labels_packed_as_metadata_zip(classifier_dir: Path, tmp_path: Path) -> None:
    labels_file = tmp_path / "labels.txt"
    # A BOM and CRLF line ends, as editors on Windows write them: stored normalised.
    labels_file.write_bytes("\ufeff".encode() + "\r\n".join(SCENE_LABELS).encode() + b"\r\n")
    out = tmp_path / "with_labels.tflite"
    report = convert(classifier_dir, out, ConvertOptions(labels=str(labels_file)))

    assert report.labels_member == "labels.txt" and report.labels_count == NUM_CLASSES
    with zipfile.ZipFile(out) as zf:
        (info,) = zf.infolist()
        assert info.filename == "labels.txt"
        assert info.compress_type == zipfile.ZIP_STORED
        assert zf.read("labels.txt") == ("\n".join(SCENE_LABELS) + "\n").encode("utf-8")
    labels = metadata_labels(out)
    assert labels is not None and labels.name(4) == "head pose"
    # The runtime still loads and runs the flatbuffer with the zip after it.
    interp = _litert(out)
    (inp,) = interp.get_input_details()
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    interp.invoke()
    probs = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert probs.shape == (1, NUM_CLASSES)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-5)


def test_flex_op_refused_with_explanation(flex_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "flex.tflite"
    out.write_bytes(b"previous model")
    with pytest.raises(ModelError) as excinfo:
        convert(flex_dir, out)
    message = str(excinfo.value)
    assert "\n" not in message
    assert "RGBToHSV" in message
    assert "Flex" in message and "--allow-select-tf-ops" in message
    # Nothing written: the previous file is untouched and no temporary is left.
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flex.tflite"]


def test_flex_op_allowed(flex_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "flex.tflite"
    report = convert(flex_dir, out, ConvertOptions(allow_select_tf_ops=True))
    assert report.flex_ops == ["RGBToHSV"]
    assert "SELECT_TF_OPS" in report.supported_ops
    assert any("Flex delegate" in note for note in report.notes)
    assert report.agreement == [] and report.invoke_ms_mean is None
    assert [list(t.shape) for t in report.outputs] == [[1, 3]]
    # As the report says: LiteRT without the Flex delegate cannot run it.
    with pytest.raises(RuntimeError, match="Flex"):
        _litert(out)


def _garbage_saved_model(root: Path) -> Path:
    path = root / "broken"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"\x00not a protobuf\xff" * 8)
    return path


def _dynamic_size_saved_model(root: Path) -> Path:
    inputs = keras.Input((None, None, 3), name="image")
    model = keras.Model(inputs, _backbone(inputs))
    path = root / "dynamic"
    model.export(str(path), verbose=False)
    return path


def _two_input_saved_model(root: Path) -> Path:
    a = keras.Input((8, 8, 3), name="a")
    b = keras.Input((8, 8, 3), name="b")
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    path = root / "two_inputs"
    model.export(str(path), verbose=False)
    return path


@pytest.mark.parametrize(
    ("make_dir", "match"),
    [
        (_garbage_saved_model, "cannot load the SavedModel"),
        (_dynamic_size_saved_model, "dynamic size"),
        (_two_input_saved_model, "exactly one image"),
    ],
)
def test_unusable_saved_models(tmp_path: Path, make_dir: Any, match: str) -> None:
    out = tmp_path / "out.tflite"
    with pytest.raises(ModelError, match=match) as excinfo:
        convert(make_dir(tmp_path), out)
    assert "\n" not in str(excinfo.value)
    assert not out.exists()


@pytest.mark.parametrize("quantize", ["none", "float16", "dynamic"])
def test_our_model_loads_each_float_io_result(
    classifier_dir: Path, tmp_path: Path, quantize: str
) -> None:
    from camera_app.inference.model import Model, ModelOptions

    out = tmp_path / f"m_{quantize}.tflite"
    convert(classifier_dir, out, ConvertOptions(quantize=quantize))  # type: ignore[arg-type]
    model = Model(ModelOptions(str(out), num_threads=1))
    assert model.family == "classification"
    assert model.info.input.dtype == np.float32
    result = model.infer_image(np.full((120, 160, 3), 128, np.uint8))
    assert result.classes is not None
    assert len(result.classes) == min(5, NUM_CLASSES)  # top_k is 5 by default
    assert float(result.classes.score[0]) > 0.0


def test_int8_uint8_cli_convert_then_run_on_the_video(
    classifier_dir: Path, calibration: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 7: full int8 with uint8 I/O, calibrated on a fixture video, runs through `camera-app run`."""
    import json

    from camera_app.cli import main

    out, log = tmp_path / "int8.tflite", tmp_path / "d.jsonl"
    code = main(
        [
            "convert",
            str(classifier_dir),
            str(out),
            "--quantize",
            "int8",
            "--io-dtype",
            "uint8",
            "--calibration",
            calibration,
            "--calibration-frames",
            str(CALIBRATION_FRAMES),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["inputs"][0]["dtype"] == "uint8"
    code = main(
        ["run", "--model", str(out), "--source", calibration, "--jsonl", str(log), "--quiet"]
    )
    assert code == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["event"] == "start"  # the run's start marker, then one record a frame
    recs = lines[1:]
    frames = cv2.VideoCapture(calibration).get(cv2.CAP_PROP_FRAME_COUNT)
    assert len(recs) == int(frames) > 0
    assert all(r["classes"] and 0 <= r["classes"][0]["class_id"] < NUM_CLASSES for r in recs)
