"""convert()'s input checks and error messages: all before TensorFlow loads.

None of these needs TensorFlow: bad inputs are refused first, so the
SavedModel folders here are fakes with an empty saved_model.pb.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from camera_app.convert import ConvertOptions, convert
from camera_app.convert.converter import conversion_error
from camera_app.errors import ConfigError, LabelsError, ModelError, SourceError


def _fake_saved_model(root: Path) -> Path:
    """Passes the folder check; TensorFlow would refuse it, but is never reached."""
    path = root / "fake_saved_model"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"")
    return path


_FLEX_TAIL = (
    "<unknown>:0: error: failed while converting: 'main': \nSome ops are not supported by the "
    "native TFLite runtime, you can enable TF kernels fallback using TF Select.\n"
    "TF Select ops: Erf, RGBToHSV\nDetails:\n\ttf.Erf(tensor<1xf32>) -> (tensor<1xf32>)\n\n"
)
_CUSTOM_TAIL = (
    "<unknown>:0: error: failed while converting: 'main': \nSome ops in the model are custom "
    "ops, See instructions to implement custom ops\nCustom ops: Mod\nDetails:\n\ttf.Mod()\n\n"
)
_OTHER = (
    "<unknown>:0: error: loc(callsite(fused[\"x\"])): 'tfl.conv_2d' op quantization "
    "parameters violate the same scale constraint\n<unknown>:0: note: see current operation"
)


@pytest.mark.parametrize(
    ("text", "allow_select", "expected"),
    [
        (_FLEX_TAIL, False, "not TFLite builtins: Erf, RGBToHSV. "),
        (
            _FLEX_TAIL + _CUSTOM_TAIL,
            False,
            "Erf, RGBToHSV (and custom ops no runtime provides: Mod)",
        ),
        (_CUSTOM_TAIL, False, "neither TFLite builtins nor Select TF ops provide: Mod;"),
        (
            _FLEX_TAIL + _CUSTOM_TAIL,
            True,
            "neither TFLite builtins nor Select TF ops provide: Mod;",
        ),
        (_OTHER, False, "conversion (none) failed: 'tfl.conv_2d' op quantization parameters"),
        ("", False, "conversion (none) failed: RuntimeError"),
    ],
)
def test_conversion_error_messages(text: str, allow_select: bool, expected: str) -> None:
    options = ConvertOptions(allow_select_tf_ops=allow_select)
    error = conversion_error(RuntimeError(text), Path("sm"), options)
    assert isinstance(error, ModelError)
    assert expected in str(error)
    assert "\n" not in str(error)


def _garbage_image_dir(root: Path) -> str:
    folder = root / "not_images"
    folder.mkdir()
    (folder / "frame.jpg").write_bytes(b"not a jpeg")
    return str(folder)


def _empty_dir(root: Path) -> str:
    folder = root / "empty"
    folder.mkdir()
    return str(folder)


@pytest.mark.parametrize(
    ("make_source", "error", "match"),
    [
        (_empty_dir, SourceError, "no images"),
        (_garbage_image_dir, SourceError, "can be read as an image"),
        (lambda root: str(root / "missing.mp4"), SourceError, "video file not found"),
        (lambda root: str(root / "*.png"), SourceError, "no images"),
    ],
)
def test_calibration_without_frames(
    tmp_path: Path, make_source: Any, error: type, match: str
) -> None:
    options = ConvertOptions(quantize="int8", calibration=make_source(tmp_path))
    with pytest.raises(error, match=match) as excinfo:
        convert(_fake_saved_model(tmp_path), tmp_path / "out.tflite", options)
    assert "\n" not in str(excinfo.value)
    assert not (tmp_path / "out.tflite").exists()


def _file_not_dir(root: Path) -> Path:
    path = root / "model.pb"
    path.write_bytes(b"")
    return path


def _dir_without_saved_model(root: Path) -> Path:
    path = root / "just_a_folder"
    path.mkdir()
    (path / "variables").mkdir()
    return path


@pytest.mark.parametrize(
    ("make_dir", "match"),
    [
        (lambda root: root / "missing", "SavedModel folder not found"),
        (_file_not_dir, "not a SavedModel folder"),
        (_dir_without_saved_model, "no saved_model.pb"),
    ],
)
def test_bad_saved_model_dir(tmp_path: Path, make_dir: Any, match: str) -> None:
    with pytest.raises(ModelError, match=match) as excinfo:
        convert(make_dir(tmp_path), tmp_path / "out.tflite")
    assert "\n" not in str(excinfo.value)


def test_tensorflow_is_imported_only_to_convert(tmp_path: Path) -> None:
    """Importing the package, and refusing bad inputs, never loads TensorFlow."""
    code = (
        "import sys, camera_app.convert, camera_app.inference.model\n"
        "from camera_app.errors import ModelError\n"
        "try:\n"
        f"    camera_app.convert.convert({str(tmp_path / 'missing')!r}, 'out.tflite')\n"
        "except ModelError:\n"
        "    pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_output_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        convert(_fake_saved_model(tmp_path), tmp_path)


def test_missing_labels_file(tmp_path: Path) -> None:
    options = ConvertOptions(labels=str(tmp_path / "labels.txt"))
    with pytest.raises(LabelsError, match="not found"):
        convert(_fake_saved_model(tmp_path), tmp_path / "out.tflite", options)
