"""Failure reporting: once per episode, counted, back-off 1 s doubling to 30 s."""

from __future__ import annotations

import errno
import logging

import pytest

from camera_app.recording.health import WriteHealth, describe


def test_describe_names_the_errno() -> None:
    assert describe(OSError(errno.ENOSPC, "No space left on device")) == (
        "No space left on device (ENOSPC)"
    )
    assert (
        describe(OSError(errno.EROFS, "Read-only file system")) == "Read-only file system (EROFS)"
    )
    assert describe("file was deleted") == "file was deleted"


def test_one_log_line_per_episode_and_back_off_doubles(
    clock, caplog: pytest.LogCaptureFixture
) -> None:
    health = WriteHealth("recording", clock=clock)
    caplog.set_level(logging.DEBUG, logger="camera_app.recording.health")
    health.failed(OSError(errno.ENOSPC, "No space left on device"), "/x/a.mp4")
    delays = []
    for _ in range(7):
        assert not health.retry_due()
        delay = health.state().retry_in_s
        assert delay is not None
        delays.append(delay)
        clock.advance(delay)
        assert health.retry_due()
        health.failed(OSError(errno.ENOSPC, "No space left on device"))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "No space left on device (ENOSPC)" in errors[0].getMessage()
    assert "/x/a.mp4" in errors[0].getMessage()
    state = health.state()
    assert (state.ok, state.failures, state.reason) == (
        False,
        1,
        "No space left on device (ENOSPC)",
    )

    health.recovered()
    health.recovered()  # a second call while ok logs nothing
    assert [r.levelno for r in caplog.records if r.levelno >= logging.WARNING] == [
        logging.ERROR,
        logging.WARNING,
    ]
    assert health.ok and health.state().retry_in_s is None


def test_counts_move_lost_units_to_dropped(clock) -> None:
    health = WriteHealth("recording", clock=clock)
    health.wrote(10)
    health.dropped(2)
    health.lost(3)
    health.lost(100)  # never below zero
    state = health.state()
    assert (state.written, state.dropped) == (0, 2 + 3 + 7)
    assert state.to_json()["written"] == 0


def test_a_failure_soon_after_recovering_keeps_the_longer_delay(clock) -> None:
    health = WriteHealth("recording", clock=clock)
    for _ in range(3):  # 1, 2, 4
        health.failed("x")
        clock.advance(health.state().retry_in_s or 0)
    health.recovered()
    clock.advance(5)
    health.failed("again")
    assert health.state().retry_in_s == 4  # flapping does not log every second
    health.recovered()
    clock.advance(31)  # quiet for the longest delay: start again from 1 s
    health.failed("later")
    assert health.state().retry_in_s == 1
    assert health.state().failures == 3


def test_the_same_failure_right_after_a_short_recovery_is_not_a_new_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retention frees a little room, writing resumes, the disk fills again:
    a reader sees one error, not one per flap."""
    now = [0.0]
    health = WriteHealth("recording", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "camera_app.recording.health"):
        health.failed(OSError(28, "No space left on device"), "a.mp4")
        now[0] += 1.0
        health.recovered()
        now[0] += 0.5
        health.failed(OSError(28, "No space left on device"), "b.mp4")
        now[0] += 60.0
        health.recovered()
        now[0] += 60.0  # a quiet minute later: a new episode is an error again
        health.failed(OSError(28, "No space left on device"), "c.mp4")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(":")[0] for r in errors] == ["recording a.mp4", "recording c.mp4"]
    assert health.state().failures == 2, "failure episodes: the flap belongs to the first"
