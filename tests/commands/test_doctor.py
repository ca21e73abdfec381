"""``camera-app doctor`` end to end: one line per check, exit 0 unless a
check FAILs, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import camera_app.cli as cli
import camera_app.doctor as doctor_pkg
from camera_app.commands import doctor as doctor_cmd
from camera_app.commands.args import Parser
from camera_app.doctor import system
from tests.conftest import free_port

NAMES = ["python", "runtime", "config", "camera", "model", "outputs", "mqtt", "web", "service"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the doctor command; no /etc config; no picamera2 and no /dev/video*
    (this machine's situation, made the same everywhere)."""

    def build() -> argparse.ArgumentParser:
        p = Parser(prog="camera-app")
        p.add_argument("--debug", action="store_true")
        p.add_argument("--log-level", default=None)
        sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        doctor_cmd.register(sub)
        return p

    monkeypatch.setattr(cli, "build_parser", build)
    monkeypatch.setattr(doctor_pkg, "DEFAULT_CONFIG", tmp_path / "no-etc" / "camera-app.toml")
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setattr(system, "probe_video_devices", lambda: [])
    monkeypatch.delenv("CAMERA_APP_MQTT_PASSWORD", raising=False)


def config_file(tmp_path: Path, models_dir: Path, source: str, extra: str = "") -> Path:
    path = tmp_path / "camera-app.toml"
    path.write_text(
        f"""
[source]
spec = "{source}"
[model]
path = "{models_dir / "ssd_mobilenet_v1_coco_quant.tflite"}"
labels = "{models_dir / "coco_labels.txt"}"
[sinks.jsonl]
path = "{tmp_path / "out" / "detections.jsonl"}"
{extra}
"""
    )
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def levels(lines: list[str]) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in lines}


def test_everything_ok_with_a_file_source_a_broker_and_a_web_port(
    tmp_path: Path,
    models_dir: Path,
    videos_dir: Path,
    mosquitto: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    config = config_file(
        tmp_path,
        models_dir,
        str(videos_dir / "bottle-detection.mp4"),
        f'[sinks.mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n'
        f'[preview]\nmode = "web"\nweb_port = {port}\ninsecure_no_auth = true\n',
    )
    rc, lines, err = run(["doctor", "--config", str(config)], capsys)
    assert err == ""
    assert [line.split()[1] for line in lines] == NAMES
    assert set(levels(lines).values()) == {"OK"}, lines
    assert rc == 0
    by_name = {line.split()[1]: line for line in lines}
    assert "not needed: the source is a video" in by_name["camera"]
    assert f"127.0.0.1:{mosquitto.port}: connected" in by_name["mqtt"]
    assert f"127.0.0.1:{port} is free" in by_name["web"]


def test_no_camera_here_is_a_warning_without_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(["doctor"], capsys)
    got = levels(lines)
    assert got["camera"] == "WARN" and got["config"] == "WARN"
    assert "FAIL" not in got.values()
    assert rc == 0, "warnings alone exit 0"
    camera = next(line for line in lines if line.split()[1] == "camera")
    assert "picamera2 not installed" in camera and "no /dev/video* device" in camera


def test_a_camera_source_without_a_camera_fails_with_the_reason(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, models_dir, "picamera2")
    rc, lines, _ = run(["doctor", "--config", str(config)], capsys)
    got = levels(lines)
    assert got["camera"] == "FAIL"
    assert {k for k, v in got.items() if v != "OK"} == {"camera"}, lines
    assert rc == 1


def test_json_for_scripts(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "gone").mkdir()
    config = config_file(tmp_path, models_dir, "picamera2")
    config.write_text(
        config.read_text().replace(str(models_dir / "ssd_mobilenet"), str(tmp_path / "gone" / "x"))
    )
    rc = cli.main(["doctor", "--config", str(config), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert report["ok"] is False
    assert report["config"] == str(config)
    assert [c["name"] for c in report["checks"]] == NAMES
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["model"]["level"] == "FAIL"
    assert checks["model"]["message"].startswith("model file not found: ")
    assert checks["config"]["level"] == "FAIL"
    assert set(checks["python"]) == {"name", "level", "message"}


def test_the_service_config_is_read_when_no_config_is_given(
    tmp_path: Path,
    models_dir: Path,
    images_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_file(tmp_path, models_dir, str(images_dir / "cat.bmp"))
    monkeypatch.setattr(doctor_pkg, "DEFAULT_CONFIG", config)
    rc, lines, _ = run(["doctor"], capsys)
    assert rc == 0
    assert f"config   {config}: valid" in "\n".join(lines)


def test_a_bad_option_is_one_line_exit_2(cli_error: Callable[[list[str]], tuple[int, str]]) -> None:
    rc, line = cli_error(["doctor", "--timeout", "0"])
    assert rc == 2 and "--timeout: expected a number from 0.1 to 60" in line
