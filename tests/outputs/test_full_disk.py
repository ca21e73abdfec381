"""A full disk under the recording: one log line, the run goes on (inference,
the JSONL on another file system), ``/healthz`` and ``/api/stats`` show the
recording failed, and recording resumes once files are deleted there.

The recording folder is a 2 MB tmpfs (root needed; skipped otherwise, a
failure under ``CAMERA_APP_NO_SKIPS=1``). ``min_free_bytes = 0``: no
retention, so only the deletion frees space."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _failure_lines(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if "ERROR" in x and "recording" in x]


def test_a_full_disk_fails_the_recording_not_the_run(
    app: Any, tmp_path: Path, small_fs: Path
) -> None:
    jsonl = tmp_path / "d.jsonl"  # not on the tmpfs
    config = tmp_path / "c.toml"
    config.write_text(
        f'[sinks.record]\ndir = "{small_fs}"\nsegment_s = 30.0\ncrf = 10\nmin_free_bytes = 0\n'
    )
    argv = app.args("one-by-one-person-detection.mp4", "--realtime", "--loop")
    run = app.start([*argv, "--config", str(config), "--jsonl", str(jsonl)], http=True)

    def record() -> dict[str, Any] | None:
        stats = run.try_stats()
        return stats["outputs"].get("record") if stats else None

    failed = run.wait_for(
        lambda: (r := record()) is not None and not r["ok"] and r, "the disk to fill"
    )
    assert "No space left on device (ENOSPC)" in failed["detail"], failed
    status, body = run.get("/healthz")
    assert status == 503 and b"output record: No space left on device" in body, body

    # While failed: frames are dropped, inference and the JSONL go on, one log line.
    stats = run.stats()
    processed, lines = stats["processed"], jsonl.read_text().count("\n")
    run.wait_for(
        lambda: (
            run.stats()["processed"] >= processed + 20
            and jsonl.read_text().count("\n") >= lines + 20
        ),
        "20 more frames inferred and logged",
    )
    stats = run.stats()
    assert not stats["outputs"]["record"]["ok"]
    assert stats["health"].startswith("output record: No space left on device")
    assert stats["outputs"]["jsonl"]["ok"]
    assert len(_failure_lines(run.stderr)) == 1, run.stderr  # not one per frame
    written = stats["outputs"]["record"]["written"]

    for path in small_fs.iterdir():  # the user frees space
        path.unlink()
    resumed = run.wait_for(
        lambda: (r := record()) is not None and r["ok"] and r["written"] > written + 5 and r,
        "the recording to resume",
        timeout_s=45,  # back-off: 1, 2, 4, 8, 16 s
    )
    assert resumed["failures"] == 1
    assert "writing again" in run.stderr
    assert list(small_fs.glob("*.mp4")), "no new file after the space was freed"
    assert run.stop() == 0, run.stderr
    summary = run.stderr.splitlines()
    assert any(x.startswith("output record: ") for x in summary)
