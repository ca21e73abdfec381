"""The sink protocol: every results consumer handles results and closes."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from camera_app.results import FrameResult

if TYPE_CHECKING:
    from camera_app.stats import PipelineStats

EventKind = Literal["source_down", "source_up", "end"]


@dataclass(frozen=True, slots=True)
class PipelineEvent:
    """Something sinks may want to show: the camera went down, came back..."""

    kind: EventKind
    message: str = ""
    timestamp_ns: int = 0


@runtime_checkable
class Sink(Protocol):
    """A results consumer.

    The pipeline runs each sink on its own thread behind a bounded hand-off,
    so ``handle`` may take its time without stalling inference (results it
    cannot keep up with are dropped and counted). ``close`` flushes and
    releases; after it the sink's outputs are complete files.
    """

    name: str

    def bind(self, stats: PipelineStats) -> None: ...

    def handle(self, result: FrameResult) -> None: ...

    def on_event(self, event: PipelineEvent) -> None: ...

    def close(self) -> None: ...


class BaseSink:
    """Default no-op ``bind``/``on_event``, and context-manager support."""

    name = "sink"
    stats: PipelineStats | None = None

    def bind(self, stats: PipelineStats) -> None:
        self.stats = stats

    def handle(self, result: FrameResult) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def on_event(self, event: PipelineEvent) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> BaseSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
