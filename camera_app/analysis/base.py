"""The analysis stage: processors between inference and the sinks.

Each processor takes a :class:`FrameResult` and returns one (a new object,
results are immutable), on the inference thread, in configured order, for
every inferred frame. Tracking, filters, zones, lines and events are
separate processors; none of them knows about sinks. A processor that
raises events (:class:`~camera_app.events.ObjectEvent`) hands them to the
``emit`` callable it was bound with; the pipeline queues them to every sink
in order, never dropping one. ``close()`` runs once after the last frame
(and on shutdown), and may still emit: the events stage ends every open
event there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from camera_app.events import ObjectEvent
from camera_app.results import FrameResult

if TYPE_CHECKING:
    from camera_app.stats import PipelineStats

Emit = Callable[[ObjectEvent], None]


@dataclass(frozen=True, slots=True)
class ProcessorContext:
    """What a processor is bound with before the first frame."""

    emit: Emit
    stats: PipelineStats | None = None
    every_frame: bool = False
    """Deterministic replay: every frame of a file, time from media time."""


@runtime_checkable
class Processor(Protocol):
    name: str

    def bind(self, context: ProcessorContext) -> None: ...

    def process(self, result: FrameResult) -> FrameResult: ...

    def close(self) -> None: ...


class BaseProcessor:
    """No-op ``bind``/``close``; keeps the context."""

    name = "processor"
    context: ProcessorContext | None = None

    def bind(self, context: ProcessorContext) -> None:
        self.context = context

    def emit(self, event: ObjectEvent) -> None:
        if self.context is not None:
            self.context.emit(event)

    def process(self, result: FrameResult) -> FrameResult:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        return None


def run_processors(processors: list[Processor], result: FrameResult) -> FrameResult:
    for p in processors:
        result = p.process(result)
    return result


def analysis_time_s(result: FrameResult, every_frame: bool) -> float:
    """The clock analysis runs on: media time when replaying every frame of a
    file (so the same clip gives the same tracks and events on any machine),
    capture time otherwise."""
    frame = result.frame
    if every_frame and frame.media_ms is not None:
        return frame.media_ms / 1000.0
    return frame.timestamp_ns / 1e9
