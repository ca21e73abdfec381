"""``camera-app run``: bad input, signals, systemd notify protocol."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.cli import main
from camera_app.commands.run import run_pipeline
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import Model, ModelOptions
from camera_app.pipeline import FrameGate, GateDecision, Pipeline
from camera_app.sources.base import BaseSource

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def ssd_args(models_dir: Path) -> list[str]:
    return [
        "run",
        "--model",
        str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "--threads",
        "1",
    ]


@pytest.mark.parametrize(
    ("source", "expect"),
    [
        ("/nonexistent/clip.mp4", "no such video file"),
        ("NOT_A_VIDEO", "cannot be opened"),
        ("/dev/video99", "no such device"),
        ("ftp://example.invalid/x", "unsupported URL scheme"),
        ("rtsp://127.0.0.1:9/none", "cannot be opened"),
        ("picamera2:x", "camera number"),
        ("EMPTY_DIR", "no images"),
    ],
)
def test_bad_source_is_one_line_error(
    cli_error: Callable[[list[str]], tuple[int, str]],
    tmp_path: Path,
    ssd_args: list[str],
    source: str,
    expect: str,
) -> None:
    if source == "NOT_A_VIDEO":
        source = str(tmp_path / "notes.mp4")
        Path(source).write_text("this is not a video\n")
    elif source == "EMPTY_DIR":
        source = str(tmp_path)
    code, line = cli_error([*ssd_args, "--source", source])
    assert code == 2  # the input is wrong: nothing was started
    assert expect in line


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--max-frames", "0"], "--max-frames: expected an integer >= 1"),
        (["--threshold", "2"], "from 0 to 1"),
        (["--threads", "zero"], "whole number"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--jsonl", "/nonexistent/dir/d.jsonl"], "does not exist"),
        (["--record", "out.txt"], "unsupported file type"),
        (["--mqtt", "broker:0"], "--mqtt: expected HOST or HOST:PORT with a port from 1 to 65535"),
        (["--family", "nosuch"], "--family: expected one of"),
    ],
)
def test_bad_flags_are_one_line_errors(
    cli_error: Callable[[list[str]], tuple[int, str]],
    ssd_args: list[str],
    videos_dir: Path,
    extra: list[str],
    expect: str,
) -> None:
    code, line = cli_error(
        [*ssd_args, "--source", str(videos_dir / "face-demographics-walking.gif"), *extra]
    )
    assert code == 2
    assert expect in line


def test_missing_model_flag(cli_error: Callable[[list[str]], tuple[int, str]]) -> None:
    code, line = cli_error(["run", "--source", "x.mp4"])
    assert code == 2 and "--model is required" in line


def test_jsonl_to_stdout(
    capsys: pytest.CaptureFixture[str], ssd_args: list[str], videos_dir: Path
) -> None:
    code = main(
        [
            *ssd_args,
            "--source",
            str(videos_dir / "head-pose-face-detection-female.gif"),
            "--jsonl",
            "-",
            "--quiet",
        ]
    )
    assert code == 0
    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["frame_id"] for r in recs] == list(range(23))
    persons = sum(
        any(d["class_id"] == 0 and d["score"] >= 0.5 for d in r["detections"]) for r in recs
    )
    assert persons == 23  # fixtures README: person (class 0) in 23 of 23


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(
                f"run exited early: {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.05)  # polling a file another process writes; bounded by the deadline
    raise AssertionError(f"{path} did not reach {n} lines")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_run_within_2s_with_complete_outputs(
    tmp_path: Path, models_dir: Path, looping_run: Callable[..., list[str]], sig: signal.Signals
) -> None:
    jsonl, video = tmp_path / "d.jsonl", tmp_path / "r.mp4"
    cmd = looping_run(
        "--labels", str(models_dir / "coco_labels.txt"),
        "--jsonl", str(jsonl), "--record", str(video), "--threads", "1",
    )  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        _wait_for_lines(jsonl, 11, proc, 30)  # the start marker and 10 records
        t0 = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert elapsed < 2.0
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]  # every line complete JSON
    assert lines[0]["event"] == "start"
    recs = lines[1:]
    assert len(recs) >= 10
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == len(recs)  # the recording is playable to the last frame


# -- systemd notify protocol ---------------------------------------------------------
class StallingSource(BaseSource):
    """Delivers ``n`` frames, then stalls (no frame, no error) until stopped."""

    def __init__(self, n: int) -> None:
        super().__init__("stalling")
        self.n = n
        self.stalled = threading.Event()

    def start(self) -> SourceInfo:
        self._info = SourceInfo("stalling", "test", (320, 240), fps=30.0, live=True)
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._next_id >= self.n:
            self.stalled.set()
            self._stopping.wait()  # a camera that hangs; stop() releases it
            return None
        self._stopping.wait(1 / 30)  # camera frame interval
        img = np.zeros((240, 320, 3), np.uint8)
        return Frame(img, self._take_id(), time.monotonic_ns(), self.info)


class SkipEverything:
    """A gate that infers nothing (a still scene under motion gating)."""

    def check(self, frame: Frame) -> GateDecision:
        return GateDecision(False, "no_motion")


@pytest.mark.parametrize("gate", [None, SkipEverything()], ids=["inferred", "gated"])
def test_notify_protocol_and_watchdog_stops_on_stall(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch, gate: FrameGate | None
) -> None:
    """The watchdog is fed while frames flow through the inference stage,
    inferred or not, and starves when capture stalls."""
    sock_path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(0.05)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # ping every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    model = Model(
        ModelOptions(str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"), num_threads=1)
    )
    source = StallingSource(60)
    pipeline = Pipeline(source, model, [], gate=gate)
    messages: list[tuple[float, str]] = []
    watchdog_after_stall: list[str] = []

    def listen() -> None:
        quiet_since: float | None = None
        while True:
            try:
                data = server.recv(4096).decode()
            except TimeoutError:
                data = ""
            now = time.monotonic()
            if data:
                messages.append((now, data))
                if "STOPPING=1" in data:
                    return
            if source.stalled.is_set():
                # allow the frames in hand to drain, then expect silence
                if "WATCHDOG=1" in data and quiet_since is not None and now - quiet_since > 0.5:
                    watchdog_after_stall.append(data)
                if quiet_since is None:
                    quiet_since = now
                elif now - quiet_since > 1.5 and not pipeline.stopping:
                    pipeline.stop()

    listener = threading.Thread(target=listen)
    listener.start()
    run_pipeline(pipeline)
    listener.join(5)
    server.close()
    texts = [m for _, m in messages]
    assert any("READY=1" in m for m in texts)
    assert sum("WATCHDOG=1" in m for m in texts) >= 3
    assert any("STATUS=" in m and "fps" in m for m in texts)
    assert "STOPPING=1" in texts[-1]
    assert watchdog_after_stall == []
    snap = pipeline.stats.snapshot()
    if gate is None:
        assert snap.processed >= 30 and snap.gated_total == 0
    else:
        assert snap.processed == 0 and snap.gated == {"no_motion": snap.captured}


def test_http_without_preview_serves_operations_only(
    looping_run: Callable[..., list[str]],
) -> None:
    """`run --http` on a headless appliance: /healthz and /metrics answer,
    the preview's stream does not exist."""
    import contextlib
    import queue
    import urllib.error
    import urllib.request

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        looping_run("--http", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        # the server is started before the pipeline logs "running ..."
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while not any("running" in x for x in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            assert r.status == 200
            assert "camera_app_frames_captured_total" in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/stream.mjpg", timeout=5)
        assert e.value.code == 404
        # /healthz: 200 once frames flow (503 "no frame yet" before the first)
        codes: list[int] = []
        while time.monotonic() < deadline and codes[-1:] != [200]:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
                    codes.append(r.status)
            except urllib.error.HTTPError as err:
                codes.append(err.code)
                with contextlib.suppress(queue.Empty):  # a bounded wait for the next log line
                    lines.get(timeout=0.2)
        assert codes[-1] == 200, codes
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0


# -- --debug and --log-level after the command -----------------------------------------
@pytest.mark.parametrize(
    ("argv", "debug", "log_level"),
    [
        (["run"], False, None),
        (["--debug", "run"], True, None),
        (["run", "--debug"], True, None),
        (["run", "--log-level", "warning"], False, "warning"),
        (["--log-level", "error", "run"], False, "error"),
        (["--log-level", "error", "run", "--log-level", "debug"], False, "debug"),  # last wins
        (["models", "pull", "x", "--debug"], True, None),  # a command under a command
    ],
)
def test_logging_flags_before_or_after_the_command(
    argv: list[str], debug: bool, log_level: str | None
) -> None:
    from camera_app.cli import build_parser

    args = build_parser().parse_args(argv)
    assert (args.debug, args.log_level) == (debug, log_level)


def test_run_debug_after_the_command_logs_at_debug(
    capsys: pytest.CaptureFixture[str], ssd_args: list[str], videos_dir: Path
) -> None:
    source = str(videos_dir / "head-pose-face-detection-female.gif")
    assert main([*ssd_args, "--source", source, "--max-frames", "2", "--debug"]) == 0
    assert " DEBUG camera_app." in capsys.readouterr().err


# -- make run ------------------------------------------------------------------------
def _make_variable(name: str) -> str:
    for line in (REPO / "Makefile").read_text().splitlines():
        key, sep, value = line.partition(":=")
        if sep and key.strip() == name:
            return value.strip()
    raise AssertionError(f"Makefile: no {name} :=")


def test_make_run_demo_finds_the_face_in_nine_frames_of_ten(tmp_path: Path) -> None:
    """`make run`'s model on its clip, as `make run` runs them: the first
    thing a user sees must be right."""
    model, clip = REPO / _make_variable("MODEL"), REPO / _make_variable("CLIP")
    if not (model.is_file() and clip.is_file()):
        pytest.skip(f"{model.name} or {clip.name} missing: `make models` fetches them")
    script = REPO / "models" / "demo_clip.py"
    stale = clip.stat().st_mtime < script.stat().st_mtime
    jsonl = tmp_path / "detections.jsonl"
    assert main(["run", "--model", str(model), "--source", str(clip), "--jsonl", str(jsonl)]) == 0
    frames = [r for r in map(json.loads, jsonl.read_text().splitlines()) if "frame_id" in r]
    with_face = sum(any(d["label"] == "face" for d in r["detections"]) for r in frames)
    assert len(frames) == 120
    assert with_face >= 0.9 * len(frames), f"a face in {with_face} of {len(frames)} frames" + (
        " (the clip is older than demo_clip.py: `make models`)" if stale else ""
    )


# -- why the run stopped -------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        ([], "source ended after 23 frames"),
        (["--realtime", "--loop", "--duration", "0.5"], "duration reached (0.5 s)"),
        (["--max-frames", "5"], "capture stopped after 5 frames: max frames reached (5)"),
    ],
    ids=["end", "duration", "max-frames"],
)
def test_the_log_says_why_capture_ended(
    capsys: pytest.CaptureFixture[str],
    ssd_args: list[str],
    videos_dir: Path,
    extra: list[str],
    expect: str,
) -> None:
    source = str(videos_dir / "head-pose-face-detection-female.gif")
    assert main([*ssd_args, "--source", source, *extra]) == 0
    err = capsys.readouterr().err
    assert expect in err, err
    if extra:
        assert "source ended" not in err, err


def test_the_log_says_the_signal_stopped_the_run(
    tmp_path: Path, looping_run: Callable[..., list[str]]
) -> None:
    jsonl = tmp_path / "d.jsonl"
    cmd = looping_run("--jsonl", str(jsonl), "--threads", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        _wait_for_lines(jsonl, 3, proc, 30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "capture stopped after" in err.decode() and ": SIGTERM received" in err.decode()
    assert "source ended" not in err.decode()
