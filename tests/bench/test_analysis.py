"""``bench --track``: the analysis stages as run builds them, timed one by one."""

from __future__ import annotations

import time

import numpy as np

from camera_app.analysis.lines import LineConfig
from camera_app.analysis.zones import ZoneConfig
from camera_app.bench.analysis import (
    BENCH_LINE,
    BENCH_ZONE,
    NaiveAnalysis,
    build_analysis,
    tracking_config,
)
from camera_app.bench.measure import StageTimes
from camera_app.components import tracking_wanted
from camera_app.config import AppConfig
from camera_app.events import Event, ObjectEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import PipelineStats

INFO = SourceInfo("clip", "video", (640, 360), fps=10.0)


class Collect(BaseSink):
    name = "collect"

    def __init__(self) -> None:
        self.events: list[ObjectEvent] = []

    def handle(self, result: FrameResult) -> None:
        return None

    def on_event(self, event: Event) -> None:
        if isinstance(event, ObjectEvent):
            self.events.append(event)


def walking(i: int) -> FrameResult:
    """A person walking left to right along the bottom of the frame."""
    x = 40.0 + 12.0 * i
    det = Detections(
        np.array([[x, 200.0, x + 60.0, 350.0]], np.float32),
        np.array([0.9], np.float32),
        np.array([0], np.int32),
    )
    frame = Frame(
        np.zeros((360, 640, 3), np.uint8), i, time.monotonic_ns(), INFO, media_ms=i * 100.0
    )
    return FrameResult(frame, "ssd", det)


def test_tracking_config_adds_a_zone_and_a_line_only_when_none() -> None:
    config = tracking_config(AppConfig.default())
    assert tracking_wanted(config)
    assert config.section("zones") == (BENCH_ZONE,) and config.section("lines") == (BENCH_LINE,)
    own_zone = ZoneConfig("porch", ((0, 0), (1, 0), (1, 1)))
    own_line = LineConfig("gate", ((0, 0.5), (1, 0.5)))
    mine = AppConfig.default().with_section("zones", (own_zone,)).with_section("lines", (own_line,))
    config = tracking_config(mine)
    assert config.section("zones") == (own_zone,) and config.section("lines") == (own_line,)


def test_naive_analysis_times_each_stage_and_ends_events() -> None:
    config = tracking_config(AppConfig.default())
    processors = build_analysis(config, model=None, stats=PipelineStats())  # type: ignore[arg-type]
    assert [p.name for p in processors] == ["filters", "tracker", "zones", "lines", "events"]
    sink = Collect()
    analysis = NaiveAnalysis(processors, [sink])
    times = StageTimes()
    crossed = []
    for i in range(40):
        result = analysis.run(walking(i), times.add)
        crossed.append(result.line_counts.get("bench_line", {}))
    analysis.close()
    assert {k: len(v) for k, v in times.samples.items()} == {
        f"analysis:{n}": 40 for n in ("filters", "tracker", "zones", "lines", "events")
    }
    kinds = [e.type for e in sink.events]
    assert kinds[0] == "new" and kinds[-1] == "end" and kinds.count("end") == 1, kinds
    # the line runs down the middle: walking to the right crosses it "out", once
    assert crossed[0] == {} and crossed[-1] == {"0": (0, 1)}  # no labels: class id 0
