"""SIGKILL at a random moment during a realtime, looping run recording H.264
``.mp4`` (the watchdog's SIGABRT or a power cut look the same to the files):
every file opens and holds at least 90% of the frames written up to a second
before the kill, and the JSONL has no torn line.

The frames written over time come from the run's own ``/api/stats``
(``outputs.record.written``), sampled until the kill. Even attempts record
one file (``--record``), odd ones 1.5 s segments into a folder."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize("attempt", range(10))
def test_recording_and_log_survive_sigkill(
    app: Any,
    tmp_path: Path,
    attempt: int,
    count_frames: Callable[[Path], int],
    read_jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    jsonl, out = tmp_path / "d.jsonl", tmp_path / "recs"
    if attempt % 2:
        config = tmp_path / "c.toml"
        config.write_text(f'[sinks.record]\ndir = "{out}"\nsegment_s = 1.5\n')
        record = ["--config", str(config)]
    else:
        out.mkdir()
        record = ["--record", str(out / "rec.mp4")]
    run = app.start(app.args("one-by-one-person-detection.mp4", "--realtime", "--loop", "--jsonl", str(jsonl), *record), http=True)  # fmt: skip
    samples: list[tuple[float, int]] = []  # (monotonic time, frames written)

    def sample() -> int:
        stats = run.try_stats()
        record = stats["outputs"].get("record") if stats else None
        written = int(record["written"]) if record else 0
        samples.append((time.monotonic(), written))
        return written

    run.wait_for(sample, "the first frame recorded", timeout_s=60, every_s=0.05)
    kill_at = time.monotonic() + random.Random(attempt).uniform(2.0, 5.0)
    while time.monotonic() < kill_at:
        run.wait_for(lambda: sample() >= 0, "a stats sample", every_s=0.05)
        time.sleep(0.05)  # the sampling interval, not synchronisation
    killed_at = time.monotonic()
    run.proc.send_signal(signal.SIGKILL)
    assert run.wait(10) == -signal.SIGKILL

    before = [n for t, n in samples if t <= killed_at - 1.0]
    written_1s_before = before[-1] if before else 0
    assert written_1s_before >= 5, samples[:5]
    files = sorted(out.glob("*.mp4"))
    assert files, f"no recording in {out}"
    # Every file opens and plays, but a segment killed before its first
    # fragment (under a second old): that one is empty (removed at the next start).
    held = {f.name: count_frames(f) for f in files}
    empty = [f.name for f in files if f.stat().st_size == 0]
    assert empty in ([], [files[-1].name]), held
    assert all(n > 0 for name, n in held.items() if name not in empty), held
    assert sum(held.values()) >= 0.9 * written_1s_before, (held, written_1s_before, samples[-1])

    records = read_jsonl(jsonl)  # asserts no torn line
    assert records[0]["event"] == "start"
    assert sum("frame_id" in r for r in records) >= written_1s_before
