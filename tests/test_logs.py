"""Journald-friendly log lines and the periodic status line."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from camera_app.logs import StatusReporter, make_handler, stream_is_journal
from camera_app.stats import PipelineStats


def _journal_env(path: Path) -> dict[str, str]:
    st = os.stat(path)
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [("match", True), ("other inode", False), ("unset", False), ("garbage", False)],
)
def test_stream_is_journal(tmp_path: Path, env: str, expected: bool) -> None:
    path = tmp_path / "stderr"
    other = tmp_path / "other"
    path.touch()
    other.touch()
    environ = {
        "match": _journal_env(path),
        "other inode": _journal_env(other),
        "unset": {},
        "garbage": {"JOURNAL_STREAM": "x:y"},
    }[env]
    with path.open("w") as stream:
        assert stream_is_journal(stream, environ) is expected


def _format(handler: logging.Handler, level: int, message: str) -> str:
    record = logging.LogRecord("camera_app.x", level, __file__, 1, message, None, None)
    return handler.format(record)


def test_journal_lines_have_a_priority_and_no_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "stderr"
    path.touch()
    with path.open("w") as stream:
        handler = make_handler("info", stream, _journal_env(path))
        assert _format(handler, logging.WARNING, "camera down") == "<4>WARNING: camera down"
        assert _format(handler, logging.INFO, "a\nb") == "<6>INFO: a\n<6>b"
        debug = make_handler("debug", stream, _journal_env(path))
        assert _format(debug, logging.ERROR, "x") == "<3>ERROR camera_app.x: x"


def test_terminal_lines_have_a_timestamp(tmp_path: Path) -> None:
    with (tmp_path / "stderr").open("w") as stream:
        handler = make_handler("info", stream, {})
        line = _format(handler, logging.WARNING, "camera down")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING: camera down", line)


def test_status_reporter_logs_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    stats = PipelineStats()
    stats.on_processed(1, 12.0, {"inference": 10.0})
    reporter = StatusReporter(stats, interval_s=60.0)
    caplog.set_level(logging.INFO, logger="camera_app.logs")
    logged = [
        t for t in (1000.0, 1059.9, 1060.0, 1061.0, 1119.0, 1250.0, 1260.0) if reporter.tick(t)
    ]
    assert logged == [1060.0, 1250.0]  # one line after a long gap, not a burst
    assert len(caplog.records) == 2
    assert caplog.records[0].getMessage().startswith("starting: 0.0 fps, processed 1, dropped 0")
    assert "reconnects 0" in caplog.records[0].getMessage()


def test_status_reporter_interval_zero_never_logs(caplog: pytest.LogCaptureFixture) -> None:
    reporter = StatusReporter(PipelineStats(), interval_s=0)
    caplog.set_level(logging.INFO)
    assert not any(reporter.tick(t) for t in (0.0, 100.0, 1e6))
    assert caplog.records == []
    with pytest.raises(ValueError):
        StatusReporter(PipelineStats(), interval_s=-1)
