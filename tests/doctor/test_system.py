"""camera_app.doctor.system: Python/OS, runtime, camera and service checks,
each made to fail with a fake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from camera_app.doctor.system import (
    VideoDevice,
    check_camera,
    check_python,
    check_runtime,
    check_service,
    probe_video_devices,
)
from camera_app.errors import RuntimeNotFoundError

FAKES = Path(__file__).resolve().parent.parent / "fakes"


def test_python_ok_here() -> None:
    c = check_python()
    assert c.level == "OK", c
    assert c.message.startswith(f"Python {sys.version_info[0]}.{sys.version_info[1]}")
    assert "Linux" in c.message


def test_python_too_old_fails() -> None:
    c = check_python(version=(3, 10, 12))
    assert (c.level, c.message) == (
        "FAIL",
        "Python 3.10.12 is too old: camera-app needs 3.11 or newer",
    )


def test_python_not_linux_warns() -> None:
    c = check_python(system="Darwin", describe=lambda: "macOS")
    assert c.level == "WARN" and "not Linux" in c.message


def test_runtime_ok_here() -> None:
    c = check_runtime()
    assert c.level == "OK", c
    assert c.message.split()[0] in ("ai_edge_litert", "tflite_runtime", "tensorflow")
    assert "numpy" in c.message


def test_runtime_missing_fails() -> None:
    def none() -> Any:
        raise RuntimeNotFoundError("no TFLite runtime installed: pip install ai-edge-litert")

    c = check_runtime(none)
    assert (c.level, c.message) == (
        "FAIL",
        "no TFLite runtime installed: pip install ai-edge-litert",
    )


def test_tflite_runtime_under_numpy_2_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy

    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    c = check_runtime(lambda: SimpleNamespace(name="tflite_runtime", version="2.14.0"))
    assert c.level == "FAIL" and "built for numpy 1.x" in c.message


# -- camera -------------------------------------------------------------------


def no_picamera2() -> tuple[None, str]:
    return None, "picamera2 not installed (apt install python3-picamera2)"


def cameras(*models: str) -> Any:
    return lambda: ([{"Model": m, "Num": i} for i, m in enumerate(models)], "")


def test_a_file_source_needs_no_camera() -> None:
    c = check_camera("/videos/clip.mp4", no_picamera2, lambda: [])
    assert c.level == "OK" and "not needed" in c.message


@pytest.mark.parametrize(("source", "level"), [(None, "WARN"), ("picamera2", "FAIL")])
def test_no_camera_at_all(source: str | None, level: str) -> None:
    c = check_camera(source, no_picamera2, lambda: [])
    assert c.level == level
    assert c.message == (
        "no camera: picamera2 not installed (apt install python3-picamera2); no /dev/video* device"
    )


def test_picamera2_absent_for_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    c = check_camera("picamera2", devices=lambda: [])
    assert c.level == "FAIL" and "picamera2 not installed" in c.message


def test_picamera2_that_fails_to_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def broken(name: str, *a: Any) -> Any:
        if name == "picamera2":
            raise ValueError("numpy.dtype size changed, may indicate binary incompatibility")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", broken)
    c = check_camera(None, devices=lambda: [])
    assert c.level == "WARN"
    assert "picamera2 fails to import: numpy.dtype size changed" in c.message


def test_the_fake_picamera2_finds_its_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    import picamera2

    picamera2.reset()
    c = check_camera("picamera2", devices=lambda: [])
    assert c.level == "OK"
    assert c.message.startswith("picamera2 finds 1 camera(s): 0: ")
    picamera2.FAKE.cameras = []
    c = check_camera("picamera2", devices=lambda: [])
    assert c.level == "FAIL" and "picamera2 finds no camera" in c.message
    monkeypatch.delitem(sys.modules, "picamera2")


def test_picamera2_camera_number_out_of_range() -> None:
    c = check_camera("picamera2:1", cameras("imx708"), lambda: [])
    assert c.level == "FAIL"
    assert c.message == "source picamera2:1: no camera 1 (picamera2 finds 0: imx708)"
    assert check_camera("picamera2:1", cameras("imx708", "imx219"), lambda: []).level == "OK"


USB = VideoDevice("/dev/video0", "UVC Camera", None, True)
CODEC = VideoDevice("/dev/video10", "bcm2835-codec-decode", None, False)
LOCKED = VideoDevice(
    "/dev/video0",
    "UVC Camera",
    "not readable by user pi (sudo usermod -aG video pi, then log in again)",
)


@pytest.mark.parametrize(
    ("source", "found", "level", "text"),
    [
        (None, [USB, CODEC], "OK", "V4L2: /dev/video0 (UVC Camera)"),
        (None, [CODEC], "WARN", "no V4L2 capture device"),
        (None, [LOCKED], "FAIL", "/dev/video0: not readable by user pi (sudo usermod -aG video pi"),
        ("/dev/video0", [USB], "OK", "/dev/video0 (UVC Camera) opens"),
        ("0", [USB], "OK", "/dev/video0 (UVC Camera) opens"),
        ("/dev/video2", [USB], "FAIL", "source /dev/video2: no /dev/video2"),
        ("/dev/video0", [LOCKED], "FAIL", "/dev/video0: not readable by user pi"),
        ("/dev/video10", [CODEC], "FAIL", "is not a capture device"),
    ],
)
def test_v4l2_devices(source: str | None, found: list[VideoDevice], level: str, text: str) -> None:
    c = check_camera(source, no_picamera2, lambda: found)
    assert c.level == level
    assert text in c.message


def test_probe_reads_device_nodes(tmp_path: Path) -> None:
    (tmp_path / "video0").write_bytes(b"")  # opens, but is no V4L2 device
    (tmp_path / "video1").mkdir()  # cannot be opened read-write
    found = probe_video_devices(tmp_path)
    assert [d.path for d in found] == [str(tmp_path / "video0"), str(tmp_path / "video1")]
    assert found[0].error is None and found[0].capture is None
    assert found[1].error == "Is a directory"
    c = check_camera(None, no_picamera2, lambda: found)
    assert c.level == "FAIL" and f"{tmp_path / 'video1'}: Is a directory" in c.message


# -- service ------------------------------------------------------------------


def systemctl(stdout: str, returncode: int = 0) -> Any:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert cmd[1:3] == ["show", "camera-app"]
        assert kwargs["timeout"] == 5.0
        return subprocess.CompletedProcess(cmd, returncode, stdout, "")

    return run


def test_no_systemd_here(tmp_path: Path) -> None:
    c = check_service(systemd_dir=tmp_path / "absent")
    assert (c.level, c.message) == ("OK", "systemd is not running here: no service to check")


@pytest.mark.parametrize(
    ("stdout", "level", "text"),
    [
        (
            "LoadState=loaded\nActiveState=active\nSubState=running\nStatusText=12.0 fps, 3 objects\n",
            "OK",
            "camera-app.service is active (running): 12.0 fps, 3 objects",
        ),
        (
            "LoadState=loaded\nActiveState=failed\nSubState=failed\nStatusText=\n",
            "FAIL",
            "camera-app.service is failed (failed); see journalctl -u camera-app -n 50",
        ),
        (
            "LoadState=loaded\nActiveState=inactive\nSubState=dead\n",
            "WARN",
            "start it: sudo systemctl start camera-app",
        ),
        (
            "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n",
            "WARN",
            "camera-app.service is activating (auto-restart)",
        ),
        (
            "LoadState=not-found\nActiveState=inactive\nSubState=dead\n",
            "WARN",
            "camera-app.service is not installed",
        ),
    ],
)
def test_service_states(tmp_path: Path, stdout: str, level: str, text: str) -> None:
    c = check_service(systemd_dir=tmp_path, run=systemctl(stdout))
    assert c.level == level
    assert text in c.message


def test_systemctl_that_hangs_or_is_missing(tmp_path: Path) -> None:
    def hangs(cmd: list[str], **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    def missing(cmd: list[str], **kwargs: Any) -> Any:
        raise FileNotFoundError(2, "No such file or directory")

    c = check_service(systemd_dir=tmp_path, run=hangs)
    assert (c.level, c.message) == ("WARN", "systemctl did not answer within 5 s")
    c = check_service(systemd_dir=tmp_path, run=missing)
    assert c.level == "WARN" and "cannot run systemctl" in c.message
