"""Every bad input a user can give (issue 18): one line, no traceback, the documented code.

The rule (camera_app/errors.py): exit 2 when the input or configuration is
wrong and nothing was started; exit 1 when a run that started fails.

Most rows run ``camera_app.cli.main`` in-process through the ``cli_error``
fixture. Rows marked ``native`` involve libjpeg, FFmpeg or OpenCV, which write
to fd 2 directly where capsys cannot see: they run the CLI as a subprocess
and assert on the real stderr bytes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from camera_app.errors import EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
RUN = ["run", "--model", "MODELS/" + SSD, "--threads", "1", "--max-frames", "1"]
GIF = "VIDEOS/face-demographics-walking.gif"
DETECT = ["detect", "MODELS/" + SSD]
DETECT_READ_IMAGE = (
    "issue 18: commands/detect.py must use camera_app.sources.images.read_image "
    "(its own cv2.imread lets libjpeg print)"
)


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    expect: str
    """Words the error line must contain."""
    code: int = EXIT_USAGE
    native: bool = False
    """Run as a subprocess: a native library may write to fd 2."""
    xfail: str | None = None


CASES = [
    # -- native libraries (issue 18 item 1) --------------------------------------
    Case(
        "run-truncated-jpeg",
        [*RUN, "--source", "BAD/truncated.jpg"],
        "damaged or truncated JPEG",
        native=True,
    ),
    Case(
        "run-text-as-image",
        [*RUN, "--source", "BAD/notes.jpg"],
        "not an image (it is text)",
        native=True,
    ),
    Case(
        "run-folder-of-bad-images",
        [*RUN, "--source", "BAD/images"],
        "none of its 2 files",
        native=True,
    ),
    Case("run-zero-byte-mp4", [*RUN, "--source", "BAD/zero.mp4"], "the file is empty", native=True),
    Case(
        "run-truncated-mp4",
        [*RUN, "--source", "BAD/truncated.mp4"],
        "moov atom not found",
        native=True,
    ),
    Case(
        "run-text-as-video",
        [*RUN, "--source", "BAD/notes.mp4"],
        "cannot be opened: it is text",
        native=True,
    ),
    Case(
        "run-rtsp-closed-port",
        [*RUN, "--source", "rtsp://127.0.0.1:PORT/x"],
        "Connection refused",
        native=True,
    ),
    Case(
        "run-http-closed-port",
        [*RUN, "--source", "http://127.0.0.1:PORT/x"],
        "Connection refused",
        native=True,
    ),
    Case("run-no-such-camera", [*RUN, "--source", "/dev/video99"], "no such device", native=True),
    Case(
        "run-record-read-only-fs",
        [*RUN, "--source", GIF, "--record", "/sys/x.mp4"],
        "recording /sys/x.mp4",
        native=True,
    ),
    Case(
        "detect-truncated-jpeg",
        [*DETECT, "BAD/truncated.jpg"],
        "damaged or truncated JPEG",
        native=True,
    ),
    Case("detect-text-as-image", [*DETECT, "BAD/notes.jpg"], "cannot be read", native=True),
    Case(
        "detect-not-a-model",
        ["detect", "MODELS/coco_labels.txt", "IMAGES/cat.bmp"],
        "not a TFLite model",
        native=True,
    ),
    # -- exit codes (issue 18 item 2) --------------------------------------------
    Case(
        "run-model-missing",
        ["run", "--model", "/nonexistent/m.tflite", "--source", GIF],
        "m.tflite",
    ),
    Case(
        "run-not-a-model",
        ["run", "--model", "MODELS/coco_labels.txt", "--source", GIF],
        "not a TFLite model",
    ),
    Case(
        "run-truncated-model",
        ["run", "--model", "BAD/truncated.tflite", "--source", GIF],
        "cannot be loaded",
    ),
    Case(
        "run-record-unknown-extension",
        [*RUN, "--source", GIF, "--record", "x.xyz"],
        "unsupported file type .xyz",
    ),
    # -- from tests/commands/test_run.py -------------------------------------------
    Case("run-video-missing", [*RUN, "--source", "/nonexistent/clip.mp4"], "clip.mp4"),
    Case(
        "run-unsupported-url",
        [*RUN, "--source", "ftp://example.invalid/x"],
        "unsupported URL scheme",
    ),
    Case("run-picamera2-number", [*RUN, "--source", "picamera2:x"], "camera number"),
    Case("run-empty-folder", [*RUN, "--source", "BAD/empty"], "no images"),
    Case("run-max-frames-0", [*RUN, "--source", GIF, "--max-frames", "0"], "--max-frames"),
    Case("run-threshold-2", [*RUN, "--source", GIF, "--threshold", "2"], "from 0 to 1"),
    Case("run-threads-word", [*RUN, "--source", GIF, "--threads", "zero"], "whole number"),
    Case("run-unknown-flag", [*RUN, "--source", GIF, "--no-such-flag"], "unrecognized arguments"),
    Case(
        "run-jsonl-no-folder",
        [*RUN, "--source", GIF, "--jsonl", "/nonexistent/dir/d.jsonl"],
        "does not exist",
    ),
    Case("run-record-txt", [*RUN, "--source", GIF, "--record", "out.txt"], "unsupported file type"),
    Case(
        "run-mqtt-port-0",
        [*RUN, "--source", GIF, "--mqtt", "broker:0"],
        "--mqtt: expected HOST or HOST:PORT",
    ),
    Case(
        "run-family-unknown",
        [*RUN, "--source", GIF, "--family", "nosuch"],
        "--family: expected one of",
    ),
    Case("run-no-model", ["run", "--source", "x.mp4"], "--model is required"),
    Case("run-config-missing", ["run", "--config", "/nonexistent/c.toml"], "c.toml"),
    Case("run-config-bad-key", ["run", "--config", "BAD/typo.toml"], "sourse"),
    # -- from tests/commands/test_detect.py ----------------------------------------
    Case(
        "detect-model-missing",
        ["detect", "/nonexistent/model.tflite", "IMAGES/cat.bmp"],
        "model file not found",
    ),
    Case(
        "detect-truncated-model",
        ["detect", "BAD/truncated.tflite", "IMAGES/cat.bmp"],
        "cannot be loaded",
    ),
    Case("detect-second-image-bad", [*DETECT, "IMAGES/cat.bmp", "BAD/notes.jpg"], "cannot be read"),
    Case("detect-image-missing", [*DETECT, "/nonexistent/photo.jpg"], "image not found"),
    Case("detect-image-is-folder", [*DETECT, "IMAGES"], "not a file"),
    Case("detect-family-unknown", [*DETECT, "IMAGES/cat.bmp", "--family", "nosuch"], "--family"),
    Case(
        "detect-family-mismatch",
        [*DETECT, "IMAGES/cat.bmp", "--family", "classification"],
        "not a classifier",
    ),
    Case(
        "detect-labels-latin1",
        [*DETECT, "IMAGES/cat.bmp", "--labels", "BAD/latin1.txt"],
        "not UTF-8",
    ),
    Case(
        "detect-labels-duplicate",
        [*DETECT, "IMAGES/cat.bmp", "--labels", "BAD/dup_ids.txt"],
        "line 3",
    ),
    Case(
        "detect-labels-missing",
        [*DETECT, "IMAGES/cat.bmp", "--labels", "/nonexistent/l.txt"],
        "l.txt",
    ),
    Case("detect-threshold-2", [*DETECT, "IMAGES/cat.bmp", "--threshold", "2"], "--threshold"),
    Case("detect-threads-negative", [*DETECT, "IMAGES/cat.bmp", "--threads", "-1"], "--threads"),
    Case(
        "detect-annotate-is-file",
        [*DETECT, "IMAGES/cat.bmp", "--annotate", "BAD/notes.jpg"],
        "not a folder",
    ),
    Case(
        "detect-delegate-missing",
        [*DETECT, "IMAGES/cat.bmp", "--delegate", "/nonexistent/libd.so"],
        "libd.so",
    ),
    Case(
        "detect-delegate-edgetpu",
        [*DETECT, "IMAGES/cat.bmp", "--delegate", "edgetpu:usb"],
        "libedgetpu",
    ),
    Case(
        "detect-delegate-not-one",
        [*DETECT, "IMAGES/cat.bmp", "--delegate", "libm.so.6"],
        "libm.so.6",
    ),
    Case(
        "detect-delegate-options",
        [*DETECT, "IMAGES/cat.bmp", "--delegate", "/x.so;oops"],
        "key=value",
    ),
    Case("detect-no-image", DETECT, "required"),
    # -- from tests/commands/test_inspect.py ---------------------------------------
    Case("inspect-model-missing", ["inspect", "/nonexistent/model.tflite"], "model file not found"),
    Case("inspect-folder", ["inspect", "MODELS"], "not a file"),
    Case("inspect-not-a-model", ["inspect", "MODELS/coco_labels.txt"], "not a TFLite model"),
    Case(
        "inspect-labels-missing",
        ["inspect", "MODELS/" + SSD, "--labels", "/nonexistent/l.txt"],
        "l.txt",
    ),
    Case("inspect-threads-0", ["inspect", "MODELS/" + SSD, "--threads", "0"], "--threads"),
    Case("inspect-no-model", ["inspect"], "required"),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def bad_dir(tmp_path: Path, models_dir: Path, images_dir: Path, videos_dir: Path) -> Path:
    """The bad files the table names as BAD/..."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "truncated.jpg").write_bytes((images_dir / "face.jpg").read_bytes()[:20_000])
    (bad / "notes.jpg").write_text("this is text, not a photo\n")
    (bad / "notes.mp4").write_text("this is text, not a video\n")
    (bad / "zero.mp4").write_bytes(b"")
    (bad / "truncated.mp4").write_bytes((videos_dir / "bottle-detection.mp4").read_bytes()[:30_000])
    (bad / "truncated.tflite").write_bytes((models_dir / SSD).read_bytes()[:5000])
    (bad / "latin1.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    (bad / "dup_ids.txt").write_bytes(b"0 person\n1 bicycle\n1 car\n")
    (bad / "typo.toml").write_text('[source]\nsourse = "x.mp4"\n')
    (bad / "empty").mkdir()
    (bad / "images").mkdir()
    (bad / "images" / "a.jpg").write_bytes((images_dir / "face.jpg").read_bytes()[:20_000])
    (bad / "images" / "b.png").write_text("text")
    return bad


def _argv(template: list[str], bad: Path, models: Path, images: Path, videos: Path) -> list[str]:
    subst = {
        "BAD": str(bad),
        "MODELS": str(models),
        "IMAGES": str(images),
        "VIDEOS": str(videos),
        "PORT": str(_closed_port()),
    }
    out = []
    for arg in template:
        for key, value in subst.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def run_cli(
    argv: list[str], cwd: Path, timeout_s: float = 60.0
) -> subprocess.CompletedProcess[bytes]:
    """``python -m camera_app ARGV`` with the real fd 2 captured."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "camera_app", *argv],
        capture_output=True,
        timeout=timeout_s,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _params() -> list[object]:
    return [
        pytest.param(
            c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else []
        )
        for c in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_one_line_with_the_documented_code(
    case: Case,
    cli_error: Callable[[list[str]], tuple[int, str]],
    bad_dir: Path,
    models_dir: Path,
    images_dir: Path,
    videos_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = _argv(case.argv, bad_dir, models_dir, images_dir, videos_dir)
    monkeypatch.chdir(tmp_path)  # relative outputs (x.xyz, out.txt) land here
    if case.native:
        proc = run_cli(argv, tmp_path)
        err = proc.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err, err
        assert err.count("\n") == 1 and err.endswith("\n"), f"not one line:\n{err}"
        assert err.startswith("camera-app: error: "), err
        assert proc.stdout == b""
        rc, line = proc.returncode, err.rstrip("\n")
    else:
        rc, line = cli_error(argv)
    assert case.expect in line
    assert rc == case.code, line
    assert list(tmp_path.iterdir()) == [bad_dir], "a failed start left files behind"


# -- earlier outputs survive a failed start ----------------------------------------

INTACT = [
    pytest.param(["--source", "BAD/zero.mp4"], id="bad-video"),
    pytest.param(["--source", "/dev/video99"], id="no-camera"),
    pytest.param(["--source", GIF, "--model", "MODELS/coco_labels.txt"], id="not-a-model"),
    pytest.param(["--source", GIF, "--family", "classification"], id="wrong-family"),
    pytest.param(["--source", GIF, "--record", "/sys/x.mp4"], id="record-fails-at-first-frame"),
]


@pytest.mark.parametrize("extra", INTACT)
def test_a_failed_start_leaves_earlier_outputs_intact(
    extra: list[str],
    bad_dir: Path,
    models_dir: Path,
    images_dir: Path,
    videos_dir: Path,
    tmp_path: Path,
) -> None:
    jsonl, video = tmp_path / "earlier.jsonl", tmp_path / "earlier.mkv"
    jsonl.write_bytes(b'{"earlier": "run"}\n')
    video.write_bytes(b"an earlier recording")
    argv = _argv([*RUN, "--jsonl", str(jsonl), *extra], bad_dir, models_dir, images_dir, videos_dir)
    if "--record" not in argv:
        argv += ["--record", str(video)]
    proc = run_cli(argv, tmp_path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == EXIT_USAGE and err.count("\n") == 1, err
    assert jsonl.read_bytes() == b'{"earlier": "run"}\n'
    assert video.read_bytes() == b"an earlier recording"


def test_a_decodable_but_corrupt_jpeg_prints_nothing_native(
    tmp_path: Path, models_dir: Path, images_dir: Path
) -> None:
    """libjpeg's "Corrupt JPEG data" warning on an image that still decodes
    goes to the debug log, not the terminal."""
    data = (images_dir / "face.jpg").read_bytes()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(data[:-2] + b"\x11\x22\x33" + data[-2:])
    run = run_cli(
        [
            "run",
            "--model",
            str(models_dir / SSD),
            "--source",
            str(corrupt),
            "--quiet",
            "--jsonl",
            "-",
        ],
        tmp_path,
    )
    assert run.returncode == 0 and b"Corrupt JPEG" not in run.stderr, run.stderr
    assert run.stdout.count(b"\n") == 1  # the one frame's record


def test_detect_on_a_corrupt_jpeg_prints_nothing_native(
    tmp_path: Path, models_dir: Path, images_dir: Path
) -> None:
    data = (images_dir / "face.jpg").read_bytes()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(data[:-2] + b"\x11\x22\x33" + data[-2:])
    proc = run_cli(["detect", str(models_dir / SSD), str(corrupt)], tmp_path)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
