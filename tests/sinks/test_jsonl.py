"""The detections log: appends with a start marker, whole lines, rotation,
failures reported once, stdout that its reader closes."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from camera_app.errors import ConfigError, SinkError
from camera_app.events import SourceEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.recording import linelog as linelog_module
from camera_app.results import Detections, FrameResult
from camera_app.sinks.jsonl import JsonlConfig, JsonlSink
from camera_app.stats import PipelineStats

REPO = Path(__file__).resolve().parents[2]
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
INFO = SourceInfo("clip.mp4", "video", (64, 48), fps=10.0)


def _result(i: int) -> FrameResult:
    frame = Frame(np.zeros((48, 64, 3), np.uint8), i, time.monotonic_ns(), INFO, media_ms=i * 100.0)
    return FrameResult(frame, "ssd", Detections.empty())


def _stats() -> PipelineStats:
    stats = PipelineStats()
    stats.source = {"name": "clip.mp4", "kind": "video"}
    stats.model = {"path": "/models/ssd.tflite"}
    return stats


def _records(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "torn last line"
    return [json.loads(line) for line in text.splitlines()]


def _run(sink: JsonlSink, frames: range, stats: PipelineStats | None = None) -> None:
    sink.bind(stats or _stats(), lambda: None)
    for i in frames:
        sink.handle(_result(i))
    sink.close()


def test_runs_append_each_after_a_start_marker(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"earlier":"run"}\n')
    for _ in range(2):
        _run(JsonlSink.from_config(JsonlConfig(path=str(path))), range(3))
    records = _records(path)
    assert records[0] == {"earlier": "run"}
    assert [r.get("event") or r["frame_id"] for r in records[1:]] == ["start", 0, 1, 2] * 2
    start = records[1]
    assert start["source"] == "clip.mp4" and start["model"] == "/models/ssd.tflite"
    assert start["pid"] == os.getpid() and str(start["utc"]).endswith("+00:00")


def test_nothing_is_written_before_the_first_record(tmp_path: Path) -> None:
    """A run that fails after the log was opened (another sink's start-up
    check) leaves an existing log as it was, and creates none."""
    earlier, fresh = tmp_path / "earlier.jsonl", tmp_path / "fresh.jsonl"
    earlier.write_bytes(b'{"earlier":"run"}\n')
    for path in (earlier, fresh):
        _run(JsonlSink.from_config(JsonlConfig(path=str(path))), range(0))
    assert earlier.read_bytes() == b'{"earlier":"run"}\n'
    assert not fresh.exists()


def test_library_use_writes_no_marker_and_events_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    sink = JsonlSink(str(path), events=True)
    sink.bind(_stats(), lambda: None)
    sink.handle(_result(0))
    sink.on_event(SourceEvent("source_down", "unplugged"))
    sink.close()
    assert [r.get("event", r.get("frame_id")) for r in _records(path)] == [0, "source_down"]


def test_rotation_and_retention_keep_the_log_bounded(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    (tmp_path / "other.jsonl").write_text("not ours\n")
    config = JsonlConfig(path=str(path), rotate_bytes=4096, max_bytes=10_000)
    _run(JsonlSink.from_config(config), range(300))  # ~60 KB
    rotated = list(tmp_path.glob("d-*.jsonl"))
    assert len(rotated) >= 2
    assert sum(p.stat().st_size for p in rotated) <= 10_000
    assert path.stat().st_size <= 4096
    assert (tmp_path / "other.jsonl").read_text() == "not ours\n"
    kept = [r["frame_id"] for p in [*rotated, path] for r in _records(p) if "frame_id" in r]
    # the newest kept, none lost between them, nothing torn
    assert sorted(kept) == list(range(min(kept), 300)) and min(kept) > 0


def test_a_failed_write_is_reported_once_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "d.jsonl"
    stats = _stats()
    sink = JsonlSink.from_config(JsonlConfig(path=str(path)))
    sink.bind(stats, lambda: None)
    for i in range(3):
        sink.handle(_result(i))

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(linelog_module.os, "write", full_disk)
    caplog.set_level(logging.ERROR)
    for i in range(3, 50):
        sink.handle(_result(i))
    health = stats.snapshot().outputs["jsonl"]
    assert not health.ok and "No space left on device (ENOSPC)" in health.detail
    assert health.written == 4  # the marker and 3 frames
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    monkeypatch.undo()
    sink.close()
    assert [r.get("frame_id") for r in _records(path)] == [None, 0, 1, 2]


def test_a_closed_stdout_asks_the_run_to_stop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    stops: list[int] = []
    sink = JsonlSink("-")
    sink.bind(_stats(), lambda: stops.append(1))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    for i in range(5):
        sink.handle(_result(i))  # never raises
    sink.close()
    assert stops == [1]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"path": ""}, 'path: expected a file path, or "-" for stdout, got ""'),
        (
            {"path": "d.jsonl", "rotate_bytes": 10},
            "rotate_bytes: expected 0 (never) or at least 1024",
        ),
    ],
)
def test_bad_settings_name_the_key(keys: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)):
        JsonlConfig(**keys).validate()  # type: ignore[arg-type]


def test_bad_paths_fail_when_built(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="does not exist"):
        JsonlSink(str(tmp_path / "nodir" / "d.jsonl"))
    with pytest.raises(SinkError, match="is a directory"):
        JsonlSink(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_an_empty_jsonl_flag_is_a_usage_error(
    cli_error: Callable[[list[str]], tuple[int, str]], models_dir: Path, videos_dir: Path
) -> None:
    gif = str(videos_dir / "face-demographics-walking.gif")
    code, line = cli_error(
        ["run", "--model", str(models_dir / SSD), "--source", gif, "--jsonl", ""]
    )
    assert code == 2
    assert line == "camera-app: error: --jsonl: expected a file path, or \"-\" for stdout, got ''"


def test_jsonl_to_a_pipe_closed_early_exits_quietly(models_dir: Path, videos_dir: Path) -> None:
    """``camera-app run --loop --jsonl - | head -3``: exit 0, no error."""
    argv = [sys.executable, "-m", "camera_app", "run", "--model", str(models_dir / SSD)]
    argv += ["--threads", "1", "--source", str(videos_dir / "face-demographics-walking.gif")]
    argv += ["--loop", "--jsonl", "-", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        proc.stdout.close()  # what head does after its third line
        code = proc.wait(timeout=60)  # looping forever unless the closed pipe stops it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err
    assert err == ""
    assert [json.loads(line)["frame_id"] for line in lines] == [0, 1, 2]
