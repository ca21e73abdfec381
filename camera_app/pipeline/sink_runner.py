"""One thread per sink behind a bounded hand-off."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from camera_app.errors import CameraAppError, SinkFailedError
from camera_app.events import ObjectEvent, SourceEvent
from camera_app.pipeline.handoff import POLL_S, HandOff
from camera_app.pipeline.priority import lower_thread_priority
from camera_app.sinks.base import Sink

if TYPE_CHECKING:
    from camera_app.pipeline.core import Pipeline

END: Any = object()
"""End of stream: the sink thread closes its sink and ends."""


class SinkRunner:
    def __init__(self, sink: Sink, pipeline: Pipeline, lossless: bool) -> None:
        self.sink = sink
        self.name = sink.name
        self.wants_gated: bool = getattr(sink, "wants_gated", True)
        """Results of frames that were not inferred go to this sink (see ``Sink``)."""
        self.pipeline = pipeline
        self.queue: HandOff[Any] = HandOff(
            pipeline.options.sink_queue_size,
            drop_oldest=not lossless,
            stop=pipeline._abort,
            on_drop=lambda n: pipeline.stats.on_drop(f"sink:{self.name}", n),
        )
        self.thread = threading.Thread(target=self._run, name=f"sink:{self.name}", daemon=True)
        self.closed = threading.Event()

    def _run(self) -> None:
        pipeline = self.pipeline
        stats = pipeline.stats
        lower_thread_priority(pipeline.options.worker_nice)
        try:
            while True:
                try:
                    item = self.queue.get(POLL_S)
                except TimeoutError:
                    if pipeline._abort.is_set():
                        break
                    self.sink.idle()
                    continue
                if item is END:
                    break
                if isinstance(item, SourceEvent | ObjectEvent):
                    self.sink.on_event(item)
                    continue
                t0 = time.perf_counter_ns()
                self.sink.handle(item)
                stats.on_handled(self.name, (time.perf_counter_ns() - t0) / 1e6)
        except BaseException as e:
            pipeline._fail(
                e if isinstance(e, CameraAppError) else SinkFailedError(f"sink {self.name}: {e}"), e
            )
        finally:
            try:
                self.sink.close()
            except BaseException as e:
                pipeline._fail(SinkFailedError(f"sink {self.name}: closing failed: {e}"), e)
            self.closed.set()
            pipeline._done.set()
