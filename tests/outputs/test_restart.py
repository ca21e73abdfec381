"""Restarts never destroy earlier outputs (``Restart=on-failure`` restarts the
same command): the JSONL log is appended to, a recording is never
overwritten, and a restart that fails its start-up checks opens nothing."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

GIF_FRAMES = 35


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frame_ids(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["frame_id"]) for r in records if "frame_id" in r]


def test_the_same_command_twice_keeps_the_first_runs_outputs(
    app: Any,
    tmp_path: Path,
    count_frames: Callable[[Path], int],
    read_jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    jsonl, video = tmp_path / "d.jsonl", tmp_path / "r.mp4"
    argv = app.args("face-demographics-walking.gif", "--jsonl", str(jsonl), "--record", str(video))
    first = app.run(argv)
    assert first.proc.returncode == 0, first.stderr
    log_after_first, video_after_first = jsonl.read_bytes(), _digest(video)
    assert count_frames(video) == GIF_FRAMES

    second = app.run(argv)
    assert second.proc.returncode == 0, second.stderr
    assert jsonl.read_bytes().startswith(log_after_first)  # appended after the first run
    records = read_jsonl(jsonl)
    starts = [i for i, r in enumerate(records) if r.get("event") == "start"]
    assert starts == [0, GIF_FRAMES + 1]
    assert records[0]["pid"] == first.proc.pid and records[starts[1]]["pid"] == second.proc.pid
    assert _frame_ids(records) == list(range(GIF_FRAMES)) * 2
    assert _digest(video) == video_after_first  # never overwritten
    [beside] = [p for p in tmp_path.glob("r-*.mp4")]  # r-<start time>.mp4
    assert count_frames(beside) == GIF_FRAMES
    assert f"recording to {beside}" in second.stderr


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(["--record", "/nonexistent/x.mp4"], id="record-folder-missing"),
        pytest.param(["--model", "MODELS/coco_labels.txt"], id="not-a-model"),
        pytest.param(["--source", "/nonexistent/clip.mp4"], id="source-missing"),
        pytest.param(["--record", "/sys/x.mp4"], id="record-not-writable"),
    ],
)
def test_a_restart_that_fails_its_checks_opens_nothing(
    app: Any, tmp_path: Path, models_dir: Path, bad: list[str]
) -> None:
    jsonl, video = tmp_path / "d.jsonl", tmp_path / "r.mp4"
    argv = app.args("face-demographics-walking.gif", "--jsonl", str(jsonl), "--record", str(video))
    assert app.run(argv).proc.returncode == 0
    before = {p.name: _digest(p) for p in tmp_path.iterdir()}
    bad = [a.replace("MODELS", str(models_dir)) for a in bad]
    failed = app.run([*argv, *bad])  # the later flag wins
    assert failed.proc.returncode == 2, failed.stderr
    assert failed.stderr.count("camera-app: error:") == 1 and "Traceback" not in failed.stderr
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == before  # nothing opened


def test_a_restart_after_a_kill_repairs_the_log_and_keeps_every_segment(
    app: Any,
    tmp_path: Path,
    count_frames: Callable[[Path], int],
    read_jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    """What a crash leaves (a torn last line, a segment cut short, an empty
    segment) is cleaned up at the restart; the complete parts are kept."""
    jsonl, recs = tmp_path / "d.jsonl", tmp_path / "recs"
    config = tmp_path / "c.toml"
    config.write_text(f'[sinks.record]\ndir = "{recs}"\nsegment_s = 1.0\n')
    argv = app.args("one-by-one-person-detection.mp4", "--realtime", "--loop")
    argv += ["--config", str(config), "--jsonl", str(jsonl)]
    first = app.start(argv)
    first.wait_for(lambda: len(list(recs.glob("*.mp4"))) >= 3, "three segments", timeout_s=60)
    first.proc.send_signal(signal.SIGKILL)
    first.wait(10)
    with jsonl.open("ab") as f:
        f.write(b'{"frame_id": 99999, "detec')  # a write cut by the kill
    (recs / "2000-01-01T00-00-00Z.mp4").write_bytes(
        b""
    )  # a segment killed before its first fragment
    complete = read_jsonl_prefix(jsonl)
    segments = {p.name: _digest(p) for p in recs.glob("*.mp4") if p.stat().st_size}

    second = app.start(argv)
    second.wait_for(lambda: len(read_jsonl_prefix(jsonl)) > len(complete) + 5, "new records")
    assert second.stop() == 0, second.stderr
    assert jsonl.read_bytes().startswith(b"".join(complete))  # the complete lines kept
    records = read_jsonl(jsonl)  # no torn line anywhere
    assert 99999 not in _frame_ids(records)
    assert "removed a torn last line" in second.stderr
    assert not (recs / "2000-01-01T00-00-00Z.mp4").exists()
    for name, digest in segments.items():
        assert _digest(recs / name) == digest  # the first run's segments untouched
        assert count_frames(recs / name) > 0


def read_jsonl_prefix(path: Path) -> list[bytes]:
    """The complete lines (each with its newline) at the start of ``path``."""
    data = path.read_bytes()
    return [line + b"\n" for line in data.split(b"\n")[:-1]]
