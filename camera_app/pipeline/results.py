"""After inference: the analysis processors, counting, the hand-off to the sinks.

:class:`ResultStage` takes what the inference thread produced, in order: an
inferred :class:`FrameResult`, or a frame the gate skipped (passed through
with the last tracked objects, for drawing). It runs on one thread: the
analysis thread when the processors have one (beside the next invoke),
else the inference thread itself (see :mod:`camera_app.pipeline`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from camera_app.analysis.base import Processor
from camera_app.errors import CameraAppError, RunError
from camera_app.frames import Frame
from camera_app.pipeline.gate import GateDecision
from camera_app.pipeline.handoff import POLL_S, HandOff, Stopped
from camera_app.pipeline.sink_runner import END
from camera_app.results import Detections, FrameResult, LabelLookup, Timings
from camera_app.stats import PipelineStats

Item = FrameResult | tuple[Frame, GateDecision]
"""An inferred result, or a skipped frame with the gate's decision."""
Dispatch = Callable[..., None]
"""``dispatch(item, gated=False)``: to every sink (a gated result only to those that want it)."""
Fail = Callable[..., None]
"""``fail(error, cause)``: record the first error and stop the pipeline."""


class ResultStage:
    """One result at a time: analysed, counted, dispatched; ends with the run."""

    def __init__(
        self,
        processors: Sequence[Processor],
        stats: PipelineStats,
        *,
        family: str,
        labels: LabelLookup | None,
        dispatch: Dispatch,
        stop: Callable[[str], None],
        fail: Fail,
        max_frames: int | None = None,
        on_first_result: Callable[[FrameResult], None] | None = None,
    ) -> None:
        self.processors = list(processors)
        self.stats = stats
        self.family = family
        self.labels = labels
        self.dispatch = dispatch
        self.stop = stop
        self.fail = fail
        self.max_frames = max_frames
        self._on_first_result = on_first_result
        self.last: FrameResult | None = None
        """The last inferred (and analysed) result: what a skipped frame carries."""
        self.enough = threading.Event()
        """Set once ``max_frames`` results were finished: inference stops."""

    def finish(self, item: Item) -> None:
        """An inferred result through the processors, counted and dispatched;
        a frame the gate skipped passed through with the last objects."""
        if isinstance(item, tuple):
            self.dispatch(self._pass_through(*item), gated=True)
            return
        result = self._analyse(item) if self.processors else item
        if len(result.detections):
            self.stats.on_classes(result.detections.class_id.tolist())
        t = result.timings
        self.stats.on_processed(
            result.done_ns,
            result.latency_ms,
            {"preprocess": t.preprocess_ms, "inference": t.inference_ms, "decode": t.decode_ms},
        )
        if self._on_first_result is not None:
            first, self._on_first_result = self._on_first_result, None
            first(result)
        self.dispatch(result)
        self.last = result
        if self.max_frames is not None and self.stats.processed >= self.max_frames:
            self.enough.set()
            self.stop(f"max frames reached ({self.max_frames})")

    def loop(self, results: HandOff[Any], abort: threading.Event) -> None:
        """The analysis thread: finish what inference hands over until the end
        marker, then :meth:`end`."""
        try:
            while not abort.is_set():
                try:
                    item = results.get(POLL_S)
                except TimeoutError:
                    continue
                if item is END:
                    break
                if not self.enough.is_set():  # past max_frames: inference stops, drop
                    self.finish(item)
        except Stopped:
            pass
        except BaseException as e:
            self.fail(
                e if isinstance(e, CameraAppError) else RunError(f"analysis failed: {e!r}"), e
            )
        finally:
            self.end()

    def end(self) -> None:
        """After the last result: every processor closes once (the events
        stage ends its open events), then the sinks get the end marker."""
        try:
            for p in self.processors:
                try:
                    p.close()
                except BaseException as e:
                    self.fail(RunError(f"analysis {p.name}: closing failed: {e!r}"), e)
        finally:
            self.dispatch(END)

    def _analyse(self, result: FrameResult) -> FrameResult:
        for p in self.processors:
            t0 = time.perf_counter_ns()
            result = p.process(result)
            self.stats.on_timing(f"analysis:{p.name}", (time.perf_counter_ns() - t0) / 1e6)
        return result

    def _pass_through(self, frame: Frame, decision: GateDecision) -> FrameResult:
        """The result of a frame that was not inferred: the last tracked
        objects (for drawing), no new analysis."""
        self.stats.on_gated(decision.reason or "gate")
        now = time.monotonic_ns()
        if self.last is None:
            return FrameResult(
                frame=frame,
                family=self.family,
                detections=Detections.empty(),
                labels=self.labels,
                done_ns=now,
                inferred=False,
                motion=decision.motion,
            )
        return self.last.evolve(
            frame=frame,
            timings=Timings(),
            done_ns=now,
            inferred=False,
            motion=decision.motion,
            classes=None,
            mask=None,
        )
