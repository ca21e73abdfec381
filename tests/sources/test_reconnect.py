"""ReconnectingSource: fault injection with scripted sources and a fake clock."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from camera_app.errors import SourceError
from camera_app.events import SourceEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import Model, ModelOptions
from camera_app.pipeline import Pacing, Pipeline, PipelineOptions
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sources.base import BaseSource
from camera_app.sources.reconnect import Backoff, ReconnectingSource
from camera_app.stats import PipelineStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSleeper:
    """Records back-off delays and advances the clock instead of waiting."""

    def __init__(self, clock: FakeClock, stop_after: int | None = None) -> None:
        self.clock = clock
        self.delays: list[float] = []
        self.stop_after = stop_after
        self.source: ReconnectingSource | None = None

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        self.clock.now += seconds
        if self.stop_after is not None and len(self.delays) >= self.stop_after:
            assert self.source is not None
            self.source.stop()
            return True
        return False


@dataclass
class Plan:
    """One inner source: ``frames`` good frames, then ``failure``."""

    frames: int = 1_000_000
    failure: str = "error"  # "stall", "error" or "end"
    fail_start: bool = False


class ScriptedSource(BaseSource):
    kind = "stream"

    def __init__(self, plan: Plan, clock: FakeClock, serial: int) -> None:
        super().__init__(f"fake#{serial}")
        self.plan = plan
        self.clock = clock
        self.serial = serial
        self.given = 0
        self.stopped = False

    def start(self) -> SourceInfo:
        if self.plan.fail_start:
            raise SourceError(f"{self.name}: connection refused")
        self._info = SourceInfo(self.name, "stream", (32, 24), fps=30.0, live=True)
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._stopping.is_set():
            return None
        if self.given < self.plan.frames:
            self.given += 1
            image = np.full((24, 32, 3), self.serial, np.uint8)
            return Frame(image, self._take_id(), self.given, self.info)
        if self.plan.failure == "stall":
            self.clock.now += timeout_s
            raise SourceError(f"{self.name}: no frame within {timeout_s:g} s")
        if self.plan.failure == "end":
            return None
        raise SourceError(f"{self.name}: device error")

    def stop(self) -> None:
        super().stop()
        self.stopped = True


class Factory:
    """Builds the planned sources in order; after the plan, every start fails."""

    def __init__(self, plans: list[Plan], clock: FakeClock) -> None:
        self.plans: Iterator[Plan] = iter(plans)
        self.clock = clock
        self.built: list[ScriptedSource] = []

    def __call__(self) -> ScriptedSource:
        plan = next(self.plans, Plan(fail_start=True))
        src = ScriptedSource(plan, self.clock, len(self.built))
        self.built.append(src)
        return src


class RecordingStats(PipelineStats):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.states: list[str] = []

    def set_source_state(self, state: str) -> None:
        super().set_source_state(state)
        self.states.append(state)


def make(
    plans: list[Plan], stop_after: int | None = None, **kwargs: object
) -> tuple[ReconnectingSource, Factory, FakeSleeper, list[SourceEvent], RecordingStats]:
    clock = FakeClock()
    factory = Factory(plans, clock)
    sleeper = FakeSleeper(clock, stop_after)
    events: list[SourceEvent] = []
    stats = RecordingStats()
    src = ReconnectingSource(
        factory,
        name="cam",
        stall_timeout_s=2.0,
        initial_delay_s=0.5,
        max_delay_s=10.0,
        jitter=0.0,
        on_event=events.append,
        stats=stats,
        clock=clock,
        sleep=sleeper,
        **kwargs,  # type: ignore[arg-type]
    )
    sleeper.source = src
    return src, factory, sleeper, events, stats


@pytest.mark.parametrize(
    ("failure", "stalls", "errors"), [("stall", 1, 0), ("error", 0, 1), ("end", 0, 1)]
)
def test_reconnects_and_frame_ids_keep_increasing(failure: str, stalls: int, errors: int) -> None:
    plans = [Plan(3, failure), Plan(fail_start=True), Plan(fail_start=True), Plan()]
    src, factory, sleeper, events, stats = make(plans)
    info = src.start()
    assert info.live
    frames = [src.read() for _ in range(8)]
    assert all(f is not None for f in frames)
    ids = [f.frame_id for f in frames if f is not None]
    serials = [int(f.image[0, 0, 0]) for f in frames if f is not None]
    assert ids == list(range(8))
    assert serials == [0, 0, 0, 3, 3, 3, 3, 3]
    assert sleeper.delays == [0.5, 1.0, 2.0]
    assert src.attempts == 3 and src.reconnects == 1
    assert (src.stalls, src.errors) == (stalls, errors)
    assert [e.kind for e in events] == ["source_down", "source_up"]
    assert "reconnected after 3 attempts" in events[1].message
    assert stats.reconnects == 1 and stats.stalls == stalls
    assert stats.states == ["up", "down", "reconnecting", "reconnecting", "reconnecting", "up"]
    assert factory.built[0].stopped  # the failed source was released


def test_backoff_grows_and_is_capped_when_the_source_never_recovers() -> None:
    src, _, sleeper, events, stats = make([Plan(2, "error")], stop_after=9)
    src.start()
    assert [src.read(), src.read()] != [None, None]
    assert src.read() is None  # stopped by the sleeper after 9 waits
    assert sleeper.delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    assert src.attempts == 8  # the 9th wait was cut short by stop()
    assert [e.kind for e in events] == ["source_down"]
    assert stats.reconnects == 0 and stats.source_state == "reconnecting"


def test_repeated_outages_emit_events_in_order_and_reset_the_backoff() -> None:
    plans = [Plan(2, "error"), Plan(fail_start=True), Plan(2, "stall"), Plan(2, "end"), Plan()]
    src, _, sleeper, events, stats = make(plans)
    src.start()
    frames = [src.read() for _ in range(8)]
    assert [f.frame_id for f in frames if f is not None] == list(range(8))
    assert [e.kind for e in events] == ["source_down", "source_up"] * 3
    assert sleeper.delays == [0.5, 1.0, 0.5, 0.5]
    assert (stats.reconnects, stats.stalls, src.errors) == (3, 1, 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backoff_jitter_stays_within_bounds(seed: int) -> None:
    b = Backoff(0.5, 10.0, jitter=0.1, rng=random.Random(seed))
    delays = [b.next_delay() for _ in range(10)]
    bases = [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    for d, base in zip(delays, bases, strict=True):
        assert 0.9 * base <= d <= min(10.0, 1.1 * base)
    assert len(set(delays)) == len(delays)  # jittered, not in step
    b.reset()
    assert 0.45 <= b.next_delay() <= 0.55


@pytest.mark.parametrize(
    ("initial", "cap", "jitter"), [(0.0, 1.0, 0.1), (2.0, 1.0, 0.1), (0.5, 1.0, 1.0)]
)
def test_backoff_rejects_bad_settings(initial: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, cap, jitter=jitter)


def test_first_start_failure_is_raised() -> None:
    src, *_ = make([Plan(fail_start=True)])
    with pytest.raises(SourceError, match="connection refused"):
        src.start()


def test_stop_during_backoff_returns_promptly() -> None:
    """The real Event-based wait: a 60 s back-off is cut short by stop()."""
    down = threading.Event()
    src = ReconnectingSource(
        Factory([Plan(1, "error")], FakeClock()),
        initial_delay_s=60.0,
        max_delay_s=60.0,
        on_event=lambda e: down.set() if e.kind == "source_down" else None,
    )
    src.start()
    results: list[Frame | None] = []
    reader = threading.Thread(target=lambda: results.extend([src.read(), src.read()]))
    reader.start()
    assert down.wait(5.0)
    src.stop()
    reader.join(2.0)
    assert not reader.is_alive()
    assert results[0] is not None and results[1] is None


def test_stop_wakes_a_blocked_inner_read() -> None:
    class Blocking(ScriptedSource):
        def read(self, timeout_s: float = 2.0) -> Frame | None:
            self._stopping.wait(timeout_s)
            return None

    started = threading.Event()
    clock = FakeClock()

    def factory() -> Blocking:
        started.set()
        return Blocking(Plan(), clock, 0)

    src = ReconnectingSource(factory, stall_timeout_s=60.0)
    src.start()
    assert started.is_set()
    results: list[Frame | None] = []
    reader = threading.Thread(target=lambda: results.append(src.read()))
    reader.start()
    src.stop()
    reader.join(2.0)
    assert not reader.is_alive() and results == [None]


def test_end_to_end_through_the_pipeline(models_dir: Path, tmp_path: Path) -> None:
    """A camera that fails twice: the run goes on and the JSONL keeps growing."""
    clock = FakeClock()
    plans = [Plan(5, "error"), Plan(fail_start=True), Plan(4, "stall"), Plan()]
    stats = PipelineStats()
    src = ReconnectingSource(
        Factory(plans, clock),
        name="cam",
        stall_timeout_s=1.0,
        stats=stats,
        clock=clock,
        sleep=lambda s: False,  # no back-off wait in this test
    )
    model = Model(ModelOptions(str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite")))
    out = tmp_path / "detections.jsonl"
    pipeline = Pipeline(
        src,
        model,
        [JsonlSink(str(out), events=True)],
        PipelineOptions(pacing=Pacing.EVERY_FRAME, max_frames=20),
        stats,
    )
    src.bind(on_event=pipeline.emit)
    pipeline.run()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    results = [x for x in lines if "event" not in x]
    assert [x["frame_id"] for x in results] == list(range(20))
    assert [x["event"] for x in lines if "event" in x] == ["source_down", "source_up"] * 2
    assert stats.processed == 20 and stats.reconnects == 2 and stats.stalls == 1
