"""Liveness and the outputs check, on a fake clock."""

from __future__ import annotations

import pytest

from camera_app.events import SourceEvent
from camera_app.http.health import Liveness, outputs_check
from camera_app.stats import OutputHealth, PipelineStats

S = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns

    def at(self, seconds: float) -> None:
        self.now_ns = int(seconds * S)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def live(stats: PipelineStats, clock: Clock) -> Liveness:
    liveness = Liveness(stale_after_s=5.0, clock=clock)
    liveness.stats = stats
    return liveness


def up() -> PipelineStats:
    stats = PipelineStats()
    stats.set_source_state("up")
    return stats


def test_before_and_while_starting(clock: Clock) -> None:
    assert Liveness(clock=clock)() == "pipeline not started"
    assert live(PipelineStats(), clock)() == "source starting"
    assert live(up(), clock)() == "no frame processed yet"


def test_processed_frames_keep_it_alive(clock: Clock) -> None:
    stats = up()
    stats.on_processed(1 * S, 5.0, {})
    liveness = live(stats, clock)
    clock.at(5.9)
    assert liveness() is None
    clock.at(7)
    assert liveness() == "no frame processed for 6.0 s"


def test_a_still_scene_skipped_by_the_gate_is_alive_a_stall_is_not(clock: Clock) -> None:
    stats = up()
    liveness = live(stats, clock)
    for _ in range(3):
        stats.on_gated("no_motion")
    clock.at(10)
    assert liveness() is None  # the count moved: alive
    clock.at(14)
    assert liveness() is None
    clock.at(16)
    assert liveness() == "no frame processed for 6.0 s"  # stalled
    stats.on_gated("no_motion")
    clock.at(17)
    assert liveness() is None


def test_source_events_say_why(clock: Clock) -> None:
    stats = up()
    stats.on_processed(0, 5.0, {})
    liveness = live(stats, clock)
    liveness.on_event(SourceEvent("source_down", "camera unplugged"))
    assert liveness() == "source down: camera unplugged" and not liveness.source_up()
    liveness.on_event(SourceEvent("end", ""))  # not a state change
    assert not liveness.source_up()
    liveness.on_event(SourceEvent("source_up", "back"))
    assert liveness() is None and liveness.source_up()
    stats.set_source_state("reconnecting")
    assert liveness() == "source reconnecting"


def test_outputs_check(clock: Clock) -> None:
    stats = up()
    liveness = live(stats, clock)
    check = outputs_check(liveness)
    assert check() is None
    stats.register_output("jsonl", lambda: OutputHealth(True))
    stats.register_output("record", lambda: OutputHealth(False, "disk full"))
    assert check() == "output record: disk full"
