"""The sink protocol: every results consumer handles results and closes."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from camera_app.events import Event
from camera_app.results import FrameResult

if TYPE_CHECKING:
    from camera_app.stats import PipelineStats


@runtime_checkable
class Sink(Protocol):
    """A results consumer.

    The pipeline runs each sink on its own thread behind a bounded hand-off,
    so ``handle`` may take its time without stalling inference (results it
    cannot keep up with are dropped and counted). ``close`` flushes and
    releases; after it the sink's outputs are complete files.

    Optional ``wants_gated`` (True when absent, as in :class:`BaseSink`):
    the sink reads results of frames the gate did not infer
    (``inferred=False``): previews, recordings and clips draw or encode
    them, MQTT publishes their motion state. A sink that only reads
    inferred results and events sets it False; when no sink wants them, a
    still scene's frames are counted on the capture thread and go no further.
    """

    name: str
    lossless: bool
    """In every-frame mode, wait for this sink rather than drop results
    (logs and recordings); previews set it False and always drop."""

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        """Called once before the first result: the live stats, and a callable
        that asks the pipeline to finish (a preview window being closed)."""
        ...

    def handle(self, result: FrameResult) -> None: ...

    def on_event(self, event: Event) -> None:
        """A source event (camera down/up) or an object event (new/update/end),
        in order with the results; never dropped."""
        ...

    def idle(self) -> None:
        """Called on the sink's thread about every 0.1 s when no result came
        (GUI sinks pump their event loop here)."""
        ...

    def close(self) -> None: ...


class BaseSink:
    """Default no-op ``bind``/``on_event``, and context-manager support."""

    name = "sink"
    lossless = True
    wants_gated = True
    stats: PipelineStats | None = None
    request_stop: Callable[[], None] | None = None

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        self.stats = stats
        self.request_stop = stop

    def handle(self, result: FrameResult) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def on_event(self, event: Event) -> None:
        return None

    def idle(self) -> None:
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
