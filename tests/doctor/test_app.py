"""camera_app.doctor.app: config, model and output checks, each made to fail
(a bad key, a missing or bogus model, a read-only folder, a full disk)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from camera_app.doctor import app
from camera_app.doctor.app import check_config, check_model, check_outputs, output_paths
from camera_app.doctor.network import check_mqtt, check_web


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "camera-app.toml"
    path.write_text(text)
    return str(path)


@pytest.fixture()
def ssd_config(tmp_path: Path, models_dir: Path, images_dir: Path) -> str:
    return write_config(
        tmp_path,
        f"""
[source]
spec = "{images_dir / "cat.bmp"}"
[model]
path = "{models_dir / "ssd_mobilenet_v1_coco_quant.tflite"}"
labels = "{models_dir / "coco_labels.txt"}"
[sinks.jsonl]
path = "{tmp_path / "out" / "detections.jsonl"}"
""",
    )


# -- config and model -----------------------------------------------------------


def test_config_and_model_ok(ssd_config: str) -> None:
    check, config = check_config(ssd_config)
    assert (check.level, check.message) == ("OK", f"{ssd_config}: valid")
    c = check_model(config, ssd_config)
    assert c.level == "OK", c
    assert c.message.startswith(
        f"{config.model.path}: family ssd, input 300x300 uint8, 90 labels, runtime "
    )


def test_no_config_warns() -> None:
    check, config = check_config(None)
    assert check.level == "WARN" and config is None
    assert check_model(None, None).level == "WARN"
    assert check_outputs(None).level == "WARN"
    assert check_mqtt(None).level == "OK"
    assert check_web(None).level == "OK"


def test_a_config_with_an_unknown_key_fails_everything_that_needs_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[model]\npaht = 'x.tflite'\n")
    check, config = check_config(path)
    assert check.level == "FAIL"
    assert check.message.startswith(f'config {path}: unknown key "paht" in [model]')
    assert config is None
    c = check_model(config, path)
    assert (c.level, c.message) == (
        "WARN",
        "not checked: the config cannot be read (camera-app models list shows models to pull)",
    )


def test_a_missing_model_file_fails_config_and_model(tmp_path: Path, images_dir: Path) -> None:
    path = write_config(
        tmp_path,
        f'[source]\nspec = "{images_dir / "cat.bmp"}"\n[model]\npath = "{tmp_path / "gone.tflite"}"\n',
    )
    check, config = check_config(path)
    assert check.level == "FAIL" and "model.path: no such file" in check.message
    assert config is not None, "read without the file checks, for the other checks"
    c = check_model(config, path)
    assert (c.level, c.message) == ("FAIL", f"model file not found: {tmp_path / 'gone.tflite'}")


def test_a_file_that_is_not_a_model_fails(tmp_path: Path, images_dir: Path) -> None:
    bogus = tmp_path / "m.tflite"
    bogus.write_bytes(b"not a flatbuffer at all")
    path = write_config(
        tmp_path, f'[source]\nspec = "{images_dir / "cat.bmp"}"\n[model]\npath = "{bogus}"\n'
    )
    _check, config = check_config(path)
    c = check_model(config, path)
    assert c.level == "FAIL" and "is not a TFLite model" in c.message


def test_no_model_path_fails_with_the_way_out(tmp_path: Path) -> None:
    config = SimpleNamespace(model=SimpleNamespace(path=None))
    c = check_model(config, "x.toml")
    assert c.level == "FAIL" and "camera-app models pull" in c.message


# -- outputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Jsonl:
    path: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Snapshots:
    dir: str | None = None


def outputs_config(**sections: Any) -> Any:
    """A config with component sections, as config.py builds them."""
    return SimpleNamespace(components=sections)


def test_output_paths_from_sink_sections(tmp_path: Path) -> None:
    config = outputs_config(
        **{
            "sinks.jsonl": Jsonl(str(tmp_path / "d.jsonl")),
            "sinks.record": Jsonl("-"),
            "sinks.snapshots": Snapshots(str(tmp_path / "snaps")),
            "sinks.off": Jsonl(str(tmp_path / "off.jsonl"), enabled=False),
        }
    )
    assert output_paths(config) == [
        ("sinks.jsonl.path", tmp_path / "d.jsonl", False),
        ("sinks.snapshots.dir", tmp_path / "snaps", True),
    ]


def test_writable_output_folders_are_ok(tmp_path: Path) -> None:
    config = outputs_config(**{"sinks.jsonl": Jsonl(str(tmp_path / "new" / "d.jsonl"))})
    c = check_outputs(config)
    assert c.level == "OK", c
    assert f"{tmp_path / 'new'} writable ({tmp_path / 'new'} will be created)" in c.message
    assert "GB free" in c.message
    assert check_outputs(outputs_config()).message == "no output files configured"


def test_a_read_only_folder_fails() -> None:
    """/sys refuses new files even to root."""
    c = check_outputs(outputs_config(**{"sinks.jsonl": Jsonl("/sys/detections.jsonl")}))
    assert c.level == "FAIL"
    assert c.message.startswith("sinks.jsonl.path: /sys is not writable (")


def test_an_output_under_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    c = check_outputs(outputs_config(**{"sinks.jsonl": Jsonl(str(tmp_path / "f" / "d.jsonl"))}))
    assert (c.level, c.message) == ("FAIL", f"sinks.jsonl.path: {tmp_path / 'f'} is not a folder")


@pytest.mark.parametrize(
    ("free", "level", "text"),
    [(10 << 20, "FAIL", "disk full (10 MB free)"), (500 << 20, "WARN", "0.5 GB free: low")],
)
def test_low_disk_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int, level: str, text: str
) -> None:
    monkeypatch.setattr(app.shutil, "disk_usage", lambda p: SimpleNamespace(free=free))
    c = check_outputs(outputs_config(**{"sinks.jsonl": Jsonl(str(tmp_path / "d.jsonl"))}))
    assert c.level == level
    assert text in c.message
