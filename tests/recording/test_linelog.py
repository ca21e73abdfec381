"""LineLog: appends, whole lines only, rotation without overwriting, failures handled."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from camera_app.errors import SinkError
from camera_app.recording import linelog as linelog_module
from camera_app.recording.linelog import LineLog
from camera_app.recording.retention import Retention

T0 = 1_795_996_790.0  # 2026-11-29T23:59:50Z


def _records(path: Path) -> list[dict[str, object]]:
    text = path.read_bytes().decode()
    assert text == "" or text.endswith("\n"), "torn last line"
    return [json.loads(line) for line in text.splitlines()]


def test_a_restart_appends_after_the_previous_run(tmp_path: Path) -> None:
    path = tmp_path / "det.jsonl"
    path.write_text('{"pre":1}\n')
    for run in range(2):
        with LineLog(path, wall_clock=lambda: T0) as log:
            assert log.write_marker(run=run)
            assert log.write({"frame": 0, "run": run})
    records = _records(path)
    assert records[0] == {"pre": 1}
    assert [r.get("event") for r in records[1:]] == ["start", None, "start", None]
    assert records[1]["utc"] == "2026-11-29T23:59:50+00:00" and records[1]["run"] == 0
    assert records[1]["pid"] == os.getpid()
    assert log.state().written == 2 and log.state().files == 1


def test_a_torn_line_left_by_a_crash_is_removed_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "det.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    with LineLog(path) as log:
        log.write({"d": 4})
    assert _records(path) == [{"a": 1}, {"b": 2}, {"d": 4}]
    assert "removed a torn last line (5 bytes)" in caplog.text

    path.write_bytes(b"no newline at all")
    with LineLog(path) as log:
        log.write({"e": 5})
    assert _records(path) == [{"e": 5}]


def test_a_partial_write_is_cut_back_to_the_last_whole_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "det.jsonl"
    log = LineLog(path, clock=clock)
    log.open()
    assert log.write({"n": 1})
    real_write = os.write
    monkeypatch.setattr(linelog_module.os, "write", lambda fd, data: real_write(fd, data[:5]))
    assert not log.write({"n": 2, "pad": "x" * 50})  # 5 bytes written, then cut back
    assert not log.write({"n": 3})  # failed: dropped until the back-off passes
    monkeypatch.setattr(linelog_module.os, "write", real_write)
    assert not log.write({"n": 4})
    clock.advance(1.0)
    assert log.write({"n": 5})
    log.close()
    assert _records(path) == [{"n": 1}, {"n": 5}]
    state = log.state()
    assert (state.ok, state.written, state.dropped, state.failures) == (True, 2, 3, 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "short write" in errors[0]


def test_a_full_disk_keeps_whole_lines_reports_once_and_resumes(
    small_fs: Path, clock, caplog: pytest.LogCaptureFixture
) -> None:
    filler = small_fs / "filler.bin"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    filler_size = filler.stat().st_size
    with filler.open("r+b") as f:
        f.truncate(filler_size - 6000)  # about one page and a half free
    path = small_fs / "det.jsonl"
    log = LineLog(path, clock=clock)
    log.open()
    results = [log.write({"n": i, "pad": "x" * 200}) for i in range(100)]
    assert results[0] and not results[-1]
    kept = _records(path)  # only whole lines
    assert [r["n"] for r in kept] == list(range(len(kept)))
    state = log.state()
    assert not state.ok and "ENOSPC" in (state.reason or "")
    assert state.written == len(kept) and state.written + state.dropped == 100
    filler.unlink()
    clock.advance(1.0)
    assert log.write({"n": 100})
    log.close()
    assert _records(path)[-1] == {"n": 100}
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_rotation_by_size_moves_files_aside_under_new_names(tmp_path: Path) -> None:
    path = tmp_path / "det.jsonl"
    (tmp_path / "det-2026-11-29T23-59-50Z.jsonl").write_text('{"old":1}\n')  # taken
    with LineLog(path, rotate_bytes=1024, wall_clock=lambda: T0) as log:
        for i in range(60):
            assert log.write({"n": i, "pad": "x" * 60})
    rotated = sorted(tmp_path.glob("det-*.jsonl"))
    assert [p.name for p in rotated[:3]] == [
        "det-2026-11-29T23-59-50Z-1.jsonl",
        "det-2026-11-29T23-59-50Z-2.jsonl",
        "det-2026-11-29T23-59-50Z-3.jsonl",
    ]
    assert _records(tmp_path / "det-2026-11-29T23-59-50Z.jsonl") == [{"old": 1}]
    ours = [p for p in rotated if not p.stem.endswith("Z")]
    ordered = [*sorted(ours, key=lambda p: int(p.stem.rsplit("-", 1)[1])), path]
    numbers = [r["n"] for p in ordered for r in _records(p)]
    assert numbers == list(range(60))  # every line, once, in order
    assert all(p.stat().st_size <= 1024 for p in ordered)


def test_rotation_by_day_names_the_old_file_by_its_start(tmp_path: Path) -> None:
    now = [T0]
    path = tmp_path / "det.jsonl"
    with LineLog(path, rotate_daily=True, wall_clock=lambda: now[0]) as log:
        log.write({"day": 29})
        now[0] += 20  # past midnight UTC
        log.write({"day": 30})
    assert _records(tmp_path / "det-2026-11-29T23-59-50Z.jsonl") == [{"day": 29}]
    assert _records(path) == [{"day": 30}]


def test_retention_deletes_old_rotated_files_never_the_live_one(tmp_path: Path) -> None:
    path = tmp_path / "det.jsonl"
    other = tmp_path / "other.jsonl"
    other.write_text("{}\n")
    retention = Retention(max_bytes=3000, pattern="det-*.jsonl")
    with LineLog(path, rotate_bytes=1024, retention=retention) as log:
        for i in range(200):
            log.write({"n": i, "pad": "x" * 60})
    rotated = list(tmp_path.glob("det-*.jsonl"))
    assert 0 < sum(p.stat().st_size for p in rotated) <= 3000
    assert _records(path)[-1]["n"] == 199 and other.exists()


def test_a_deleted_log_is_noticed_and_started_again(
    tmp_path: Path, clock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "det.jsonl"
    log = LineLog(path, clock=clock)
    log.open()
    log.write({"n": 0})
    path.unlink()
    clock.advance(1.0)
    assert not log.write({"n": 1})  # noticed: this line would go to a deleted file
    clock.advance(1.0)
    assert log.write({"n": 2})
    log.close()
    assert _records(path) == [{"n": 2}]
    assert "deleted" in caplog.text
    assert log.state().files == 2


def test_dash_writes_to_standard_output(capfd: pytest.CaptureFixture[str]) -> None:
    with LineLog("-") as log:
        log.write({"n": 1})
    assert capfd.readouterr().out == '{"n":1}\n'


def test_bad_use_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match=r"folder .* does not exist"):
        LineLog(tmp_path / "missing" / "det.jsonl").open()
    with pytest.raises(SinkError, match="is a directory"):
        LineLog(tmp_path).open()
    with pytest.raises(SinkError, match="rotate_bytes must be at least 1024"):
        LineLog(tmp_path / "a.jsonl", rotate_bytes=10).open()
    with LineLog(tmp_path / "a.jsonl") as log, pytest.raises(ValueError, match="newline"):
        log.write_line("two\nlines")
    assert not log.write({"after": "close"})


def test_a_file_created_and_closed_without_a_line_is_removed(tmp_path: Path) -> None:
    """A run that fails its start-up checks leaves nothing behind; an existing
    empty file is not ours to remove."""
    path = tmp_path / "det.jsonl"
    with LineLog(path):
        assert path.exists()
    assert not path.exists()
    path.write_bytes(b"")
    with LineLog(path):
        pass
    assert path.exists()


def test_a_closed_reader_on_stdout_stops_writing_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``camera-app run --jsonl - | head -3``: EPIPE is not a failure to report."""

    class ClosedPipe(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            ClosedPipe.writes += 1
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    with LineLog("-") as log:
        assert not log.write({"n": 1})
        assert log.reader_gone
        assert not log.write({"n": 2})  # not tried again
    assert ClosedPipe.writes == 1
    assert log.state().ok and log.state().failures == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_dash_follows_sys_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever ``sys.stdout`` is at the time (a test's capture, a redirect)."""
    with LineLog("-") as log:
        assert log.write({"n": 1})
    assert capsys.readouterr().out == '{"n":1}\n'
