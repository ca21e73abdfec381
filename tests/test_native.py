"""Native stderr capture (camera_app/native.py).

In-process tests run under pytest's fd capture (``capfd``): what reaches the
real fd 2 is visible there. The thread-safety test needs a process whose
``sys.stderr`` really is fd 2, so it runs a subprocess.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app import native
from camera_app.native import NativeOutput, native_output

REPO = Path(__file__).resolve().parent.parent


def test_what_native_code_writes_to_fd2_is_captured_not_printed(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with native_output("thing") as out:
        os.write(2, b"[tcp @ 0x55aa] Connection refused\n")
    os.write(2, b"after the block\n")
    assert out.text == "[tcp @ 0x55aa] Connection refused\n"
    assert capfd.readouterr().err == "after the block\n"


def test_captured_text_goes_to_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="camera_app.native"):
        with native_output("video x.mp4"):
            os.write(2, b"line one\nline two\n")
        with native_output("quiet"):
            pass
    messages = [r.getMessage() for r in caplog.records if r.name == "camera_app.native"]
    assert "video x.mp4: native output: line one | line two" in messages
    assert not any(m.startswith("quiet") for m in messages)


def test_a_real_libjpeg_warning_is_captured(
    capfd: pytest.CaptureFixture[str], images_dir: Path
) -> None:
    data = (images_dir / "face.jpg").read_bytes()
    corrupt = data[:-2] + b"\x11\x22\x33" + data[-2:]  # junk before the end-of-image marker
    with native_output("image") as out:
        image = cv2.imdecode(np.frombuffer(corrupt, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None  # a warning, not an error
    assert "Corrupt JPEG data" in out.text
    assert capfd.readouterr().err == ""


def test_a_real_ffmpeg_error_is_captured(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(200))  # an mp4 header, no moov
    with native_output("video") as out:
        cap = cv2.VideoCapture(str(path))
    assert not cap.isOpened()
    assert out.reason() == "moov atom not found"
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", None),
        ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55829c256a40] moov atom not found\n", "moov atom not found"),
        (
            "[tcp @ 0x5584018f7d00] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
            "[ WARN:0@0.230] global cap.cpp:212 open VIDEOIO(FFMPEG): backend is generally "
            "available but can't be used to capture by name\n",
            "Connection to tcp://127.0.0.1:9 failed: Connection refused",
        ),
        (  # only OpenCV's own log: better than nothing
            "[ WARN:0@0.1] global cap_v4l.cpp:914 open VIDEOIO(V4L2:/dev/video0): can't open\n",
            "global cap_v4l.cpp:914 open VIDEOIO(V4L2:/dev/video0): can't open",
        ),
        ("Premature end of JPEG file\n", "Premature end of JPEG file"),
        ("x" * 500, "x" * (native.MAX_REASON_CHARS - 3) + "..."),
    ],
)
def test_reason_is_the_library_message_without_prefixes(text: str, reason: str | None) -> None:
    out = NativeOutput("thing")
    out.text = text
    assert out.reason() == reason
    assert out.because() == (f": {reason}" if reason else "")


def test_overlapping_blocks_keep_fd2_redirected_until_the_last_ends(
    capfd: pytest.CaptureFixture[str],
) -> None:
    entered, release = threading.Event(), threading.Event()
    other: list[NativeOutput] = []

    def long_call() -> None:
        with native_output("long") as out:
            entered.set()
            release.wait(5)
            os.write(2, b"late\n")
        other.append(out)

    t = threading.Thread(target=long_call)
    t.start()
    assert entered.wait(5)
    with native_output("short") as out:
        os.write(2, b"short\n")
    os.write(2, b"between\n")  # the long block is still open: captured too
    release.set()
    t.join(5)
    os.write(2, b"after\n")
    assert out.text == "short\n"
    assert other[0].text == "short\nbetween\nlate\n"  # overlap: logged by both
    assert capfd.readouterr().err == "after\n"
    assert native._redirect.depth == 0


def test_the_capture_file_is_emptied_when_the_last_block_ends() -> None:
    for _ in range(3):
        with native_output("x"):
            os.write(2, b"y" * 1000 + b"\n")
    fd = native._redirect.capture_fd
    assert fd is not None and os.fstat(fd).st_size == 0


_THREADED_SCRIPT = """
import logging, os, sys, threading
from camera_app.native import native_output
logging.basicConfig(level=logging.INFO, format="%(message)s")  # a handler on sys.stderr (fd 2)
log = logging.getLogger("t")
stop = threading.Event()
def logger():
    for i in range(300):
        log.info("python line %d", i)
    stop.set()
t = threading.Thread(target=logger)
t.start()
blocks = 0
while not stop.is_set() or blocks < 300:
    with native_output("n"):
        os.write(2, b"NATIVE NOISE\\n")
    blocks += 1
t.join()
print("uncaught at the end goes to stderr too", file=sys.stderr)
"""


def test_python_logging_from_other_threads_is_never_swallowed() -> None:
    """fd 2 is redirected most of the time here, while another thread logs."""
    proc = subprocess.run(
        [sys.executable, "-c", _THREADED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert [x for x in lines if x.startswith("python line")] == [
        f"python line {i}" for i in range(300)
    ]
    assert "NATIVE NOISE" not in proc.stderr
    assert lines[-1] == "uncaught at the end goes to stderr too"


def test_without_fd2_nothing_is_redirected_and_nothing_breaks() -> None:
    script = (
        "from camera_app.native import native_output\n"
        "with native_output('x') as out:\n"
        "    pass\n"
        "print('ok', repr(out.text))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=60,
        cwd=REPO,
        preexec_fn=lambda: os.close(2),
    )
    assert proc.returncode == 0
    assert proc.stdout == "ok ''\n"
