"""``bench --track``: the analysis stages as ``run`` builds them with tracking on.

Filters, tracker, zones, lines and events, from the config (``--config``)
with ``[tracker] enabled = true``; a config without ``[[zones]]`` or
``[[lines]]`` gets one of each here (the lower half of the frame, a line
down the middle), so their cost is always measured. The decoders then keep
the low-score boxes the tracker needs, as in ``run``. Each stage is timed
on its own (``analysis:<name>``) in the naive loop and the pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from camera_app.analysis.base import Processor, ProcessorContext
from camera_app.analysis.lines import LineConfig
from camera_app.analysis.zones import ZoneConfig
from camera_app.app import build_processors
from camera_app.components import BuildContext
from camera_app.config import AppConfig
from camera_app.events import ObjectEvent
from camera_app.inference.model import Model
from camera_app.results import FrameResult
from camera_app.sinks.base import Sink
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

BENCH_ZONE = ZoneConfig("bench_zone", ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)))
BENCH_LINE = LineConfig("bench_line", ((0.5, 0.0), (0.5, 1.0)))


def tracking_config(config: AppConfig) -> AppConfig:
    """``config`` with tracking on, and a zone and a line if it has none."""
    config = config.with_section("tracker", replace(config.section("tracker"), enabled=True))
    if not config.section("zones"):
        config = config.with_section("zones", (BENCH_ZONE,))
    if not config.section("lines"):
        config = config.with_section("lines", (BENCH_LINE,))
    return config


def build_analysis(config: AppConfig, model: Model, stats: PipelineStats) -> list[Processor]:
    """Fresh processors (they keep state: one set per measured mode)."""
    ctx = BuildContext(config=config, stats=stats, environ={}, model=model)
    return build_processors(ctx)


class NaiveAnalysis:
    """The analysis stages inline, for the naive loop: each one timed, its
    events handed to the sinks straight away."""

    def __init__(self, processors: Sequence[Processor], sinks: Sequence[Sink]) -> None:
        self.processors = list(processors)

        def emit(event: ObjectEvent) -> None:
            for sink in sinks:
                sink.on_event(event)

        context = ProcessorContext(emit=emit, every_frame=True)
        for p in self.processors:
            p.bind(context)

    def run(self, result: FrameResult, add: Callable[[str, float], None]) -> FrameResult:
        for p in self.processors:
            t0 = time.perf_counter_ns()
            result = p.process(result)
            add(f"analysis:{p.name}", (time.perf_counter_ns() - t0) / 1e6)
        return result

    def close(self) -> None:
        """Ends the open events (the events stage emits them here)."""
        for p in self.processors:
            p.close()
