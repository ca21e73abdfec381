"""SIGTERM mid-run: the events log is whole and every event is closed.

``camera-app run --realtime --loop`` on the fixture clip, in its own process,
is sent SIGTERM as soon as the first ``new`` event is in the log, so that
event's object is still in the picture. The run must exit 0 with every
``new`` followed by its ``end``, every line valid JSON, and every snapshot
an event names on disk as a whole JPEG.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

pytestmark = [pytest.mark.fixtures, pytest.mark.timeout(300)]

FIRST_EVENT_WITHIN_S = 120.0
"""The first person walks in 6 s into the clip; generous for a loaded machine."""
EXIT_WITHIN_S = 60.0


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line being written is not one yet
    return [json.loads(line) for line in complete.splitlines()]


def test_sigterm_ends_every_event(models_dir: Path, videos_dir: Path, tmp_path: Path) -> None:
    events_path, snaps = tmp_path / "events.jsonl", tmp_path / "snaps"
    cmd = [
        sys.executable, "-m", "camera_app", "run",
        "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "--labels", str(models_dir / "coco_labels.txt"),
        "--source", str(videos_dir / "one-by-one-person-detection.mp4"),
        "--realtime", "--loop", "--threads", "1",
        "--events", str(events_path),
        "--snapshots", str(snaps),
    ]  # fmt: skip
    log_path = tmp_path / "stderr.log"
    with log_path.open("wb") as log:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + FIRST_EVENT_WITHIN_S
        seen: list[dict[str, Any]] = []
        while not any(e["type"] == "new" for e in seen):
            assert time.monotonic() < deadline, f"no new event in {FIRST_EVENT_WITHIN_S} s"
            try:  # waiting on the process: it must not end by itself
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                seen = read_events(events_path)
                continue
            pytest.fail(f"run ended early ({proc.returncode}): {log_path.read_text()}")
        open_at_term = {e["id"] for e in seen if e["type"] == "new"} - {
            e["id"] for e in seen if e["type"] == "end"
        }
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=EXIT_WITHIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = log_path.read_text()
    assert proc.returncode == 0, err
    assert "Traceback" not in err

    raw = events_path.read_text()
    assert raw.endswith("\n")
    events = [json.loads(line) for line in raw.splitlines()]  # every line parses
    new = [e["id"] for e in events if e["type"] == "new"]
    ended = [e["id"] for e in events if e["type"] == "end"]
    assert new and sorted(new) == sorted(ended), events
    assert len(set(new)) == len(new)
    assert open_at_term and open_at_term <= set(ended)  # ended by the shutdown
    by_id: dict[str, list[str]] = {}
    for e in events:
        by_id.setdefault(e["id"], []).append(e["type"])
    for kinds in by_id.values():  # new first, end last, updates between
        assert kinds[0] == "new" and kinds[-1] == "end" and kinds.count("end") == 1, by_id
    for e in events:
        if e["type"] == "end":
            assert e["end_time"] is not None and e["end_time"] >= e["start_time"], e
    snapshots = {e["snapshot"] for e in events if e["snapshot"] is not None}
    assert snapshots, "events name their snapshots"
    for path in snapshots:
        assert Path(path).parent == snaps
        image = cv2.imread(path)
        assert image is not None and image.shape == (432, 768, 3), path
    assert not [p.name for p in snaps.iterdir() if p.name.startswith(".")]  # no temp files
