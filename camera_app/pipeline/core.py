"""The Pipeline: starts the threads, hands frames and results on, stops them.

The design is described in :mod:`camera_app.pipeline`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from camera_app.analysis.base import Processor, ProcessorContext
from camera_app.errors import CameraAppError, InferenceError
from camera_app.events import Event
from camera_app.frames import Frame
from camera_app.inference.model import Model, Prepared
from camera_app.inference.runtime import default_threads
from camera_app.pipeline.capture import capture_loop
from camera_app.pipeline.gate import FrameGate, GateDecision
from camera_app.pipeline.handoff import POLL_S, HandOff, Stopped
from camera_app.pipeline.options import PipelineOptions
from camera_app.pipeline.pacing import Pacing
from camera_app.pipeline.results import ResultStage
from camera_app.pipeline.sink_runner import END, SinkRunner
from camera_app.results import FrameResult
from camera_app.sinks.base import Sink
from camera_app.sources.base import Source
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)


class Pipeline:
    """Capture -> gate -> inference -> analysis -> sinks, on their own threads.

    Build it with a started-or-not source, a loaded model, processors and
    sinks; ``run()`` blocks until the source ends, a limit is reached,
    ``stop()`` is called (from a signal handler, another thread or a sink)
    or a thread fails.
    """

    def __init__(
        self,
        source: Source,
        model: Model,
        sinks: Sequence[Sink] = (),
        options: PipelineOptions | None = None,
        stats: PipelineStats | None = None,
        processors: Sequence[Processor] = (),
        gate: FrameGate | None = None,
    ) -> None:
        self.source = source
        self.model = model
        self.sinks = list(sinks)
        self.processors = list(processors)
        self.gate = gate
        self.options = options or PipelineOptions()
        self.stats = stats or PipelineStats()
        self._stop = threading.Event()  # finish: stop capturing, drain, close
        self._abort = threading.Event()  # give up waiting on full queues
        self._done = threading.Event()  # a worker ended: wake the main loop
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.pacing = Pacing.EVERY_FRAME
        self._frames: HandOff[Any] | None = None
        self._results: HandOff[Any] | None = None
        """Inference -> analysis thread, when the processors have one."""
        self._stage: ResultStage | None = None
        self._runners: list[SinkRunner] = []
        self.on_first_result: Callable[[FrameResult], None] | None = None
        self.stop_reason: str | None = None
        """Why the pipeline was asked to stop (the first reason given); None
        while nobody asked (a source that ends by itself does not)."""

    @property
    def every_frame(self) -> bool:
        return self.pacing.lossless

    # -- control ---------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        """Ask the pipeline to finish (idempotent, any thread, signal-safe);
        the first ``reason`` ("SIGTERM received", "duration reached (5 s)")
        is the one logged when capture stops."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _fail(
        self, error: BaseException, cause: BaseException | None = None, abort: bool = True
    ) -> None:
        """Record the first error and stop; ``abort=False`` (a source that
        failed) still lets inference and sinks finish the frames in hand."""
        with self._error_lock:
            if self._error is None:
                if cause is not None and error is not cause:
                    error.__cause__ = cause
                self._error = error
                log.debug("pipeline error: %r", error, exc_info=cause or error)
        self.stop(f"failed: {error}")
        if abort:
            self._abort.set()

    def preprocess_on_capture(self) -> bool:
        """Where frames are preprocessed (see the module docstring)."""
        if self.options.preprocess_on_capture is not None:
            return self.options.preprocess_on_capture
        threads = self.model.options.num_threads or default_threads()
        return threads < default_threads()

    def analysis_thread(self) -> bool:
        """Whether the processors run on their own thread (see the module docstring)."""
        if not self.processors:
            return False
        if self.options.analysis_thread is not None:
            return self.options.analysis_thread
        return self.preprocess_on_capture()

    def emit(self, event: Event) -> None:
        """Queue an event to every sink, in order with the results, never dropped."""
        for r in self._runners:
            r.queue.put(event, force=True)

    # -- threads ---------------------------------------------------------
    def _capture_loop(self) -> None:
        assert self._frames is not None
        capture_loop(
            self.source,
            self._frames,
            stop=self._stop,
            stop_reason=lambda: self.stop_reason,
            stats=self.stats,
            gate=self.gate,
            prepare=self.model.prepare if self.preprocess_on_capture() else None,
            limit=self.options.max_frames if self.every_frame else None,
            read_timeout_s=self.options.read_timeout_s,
            worker_nice=self.options.worker_nice,
            fail=self._fail,
            keep_gated=any(r.wants_gated for r in self._runners),
        )

    def _dispatch(self, item: Any, gated: bool = False) -> None:
        """To every sink; a ``gated`` result (not inferred) only to those that want it."""
        for r in self._runners:
            if not gated or r.wants_gated:
                r.queue.put(item, force=item is END)

    def _inference_loop(self) -> None:
        assert self._frames is not None and self._stage is not None
        stage, results = self._stage, self._results
        try:
            while not self._abort.is_set() and not stage.enough.is_set():
                try:
                    item = self._frames.get(POLL_S)
                except TimeoutError:
                    continue
                if item is END:
                    break
                frame: Frame
                prepared: Prepared | None
                decision: GateDecision
                frame, prepared, decision = item
                if decision.infer:
                    result = self.model.infer(frame, prepared)
                    if decision.motion is not None:
                        result = result.evolve(motion=decision.motion)
                    out: Any = result
                else:
                    out = (frame, decision)
                if results is not None:
                    results.put(out)
                else:
                    stage.finish(out)
                self._frames.task_done()  # nothing in hand (see capture_loop's keep_gated)
        except Stopped:
            pass
        except BaseException as e:
            self._fail(
                e if isinstance(e, CameraAppError) else InferenceError(f"inference failed: {e!r}"),
                e,
            )
        finally:
            if results is not None:
                results.put(END, force=True)
            else:
                try:
                    stage.end()
                finally:
                    self._done.set()

    def _analysis_loop(self) -> None:
        assert self._stage is not None and self._results is not None
        try:
            self._stage.loop(self._results, self._abort)
        finally:
            self._done.set()

    # -- lifecycle -------------------------------------------------------
    def run(self, tick: Callable[[], None] | None = None) -> PipelineStats:
        """Run to completion; ``tick`` is called from this thread every ~0.1 s."""
        try:
            info = self.source.info  # already started by the caller
        except RuntimeError:
            try:
                info = self.source.start()
            except BaseException:
                for sink in self.sinks:  # never started: close what the caller gave us
                    sink.close()
                raise
        self.pacing = self.options.pacing or Pacing.decide(info.live, None)
        self.stats.source = {
            "name": info.name,
            "kind": info.kind,
            "size_wh": list(info.size_wh),
            "fps": info.fps,
            "live": info.live,
            "pacing": self.pacing.value,
        }
        self.stats.labels = self.model.labels
        self.stats.model = {
            "path": self.model.info.path,
            "family": self.model.family,
            "runtime": self.model.runtime.name,
        }
        self.stats.set_source_state("up")
        self._frames = HandOff(
            self.options.queue_size,
            drop_oldest=not self.every_frame,
            stop=self._abort,
            on_drop=lambda n: self.stats.on_drop("capture_queue", n),
            keep=(lambda item: item is not END and item[2].infer) if self.gate else None,
        )
        if self.analysis_thread():
            self._results = HandOff(self.options.queue_size, drop_oldest=False, stop=self._abort)
        self._stage = ResultStage(
            self.processors,
            self.stats,
            family=self.model.family,
            labels=self.model.labels,
            dispatch=self._dispatch,
            stop=self.stop,
            fail=self._fail,
            max_frames=self.options.max_frames,
            on_first_result=self.on_first_result,
        )
        context = ProcessorContext(emit=self.emit, stats=self.stats, every_frame=self.every_frame)
        try:
            for sink in self.sinks:
                sink.bind(self.stats, self.stop)  # may open files, start servers
                lossless = self.every_frame and getattr(sink, "lossless", True)
                self._runners.append(SinkRunner(sink, self, lossless))
            for p in self.processors:
                p.bind(context)
        except BaseException:
            for sink in self.sinks:
                sink.close()
            self.source.stop()
            raise
        # after the sinks opened their outputs: a start that fails there says only why
        log.info(
            "running %s (%s, %s, input %s) on %s (%s %dx%d%s, %s)",
            self.model.info.path,
            self.model.family,
            self.model.runtime.name,
            "x".join(str(d) for d in self.model.info.input.shape[1:3]),
            info.name,
            info.kind,
            *info.size_wh,
            f", {info.fps:.1f} fps" if info.fps else "",
            "every frame" if self.every_frame else "newest frame wins",
        )
        analysis = (
            [threading.Thread(target=self._analysis_loop, name="analysis", daemon=True)]
            if self._results is not None
            else []
        )
        self._threads = [r.thread for r in self._runners] + analysis
        self._threads += [
            threading.Thread(target=self._inference_loop, name="inference", daemon=True),
            threading.Thread(target=self._capture_loop, name="capture", daemon=True),
        ]
        switch_interval = sys.getswitchinterval()
        if self.options.switch_interval_s is not None:
            sys.setswitchinterval(self.options.switch_interval_s)
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + self.options.duration_s if self.options.duration_s else None
        workers = [*analysis, self._threads[-2]]
        try:
            while any(t.is_alive() for t in workers) or not all(
                r.closed.is_set() for r in self._runners
            ):
                if tick is not None:
                    tick()
                if deadline is not None and time.monotonic() >= deadline:
                    self.stop(f"duration reached ({self.options.duration_s:g} s)")
                    deadline = None
                if self._stop.is_set():
                    break
                self._done.wait(POLL_S)  # set when a worker ends: no polling delay at exit
                self._done.clear()
        finally:
            self._shutdown()
            sys.setswitchinterval(switch_interval)
        if self._error is not None:
            raise self._error
        return self.stats

    def _shutdown(self) -> None:
        self._stop.set()
        self.source.stop()  # wakes a blocked read
        t_end = time.monotonic() + 1.5
        workers = self._threads[len(self._runners) :]  # analysis, inference, capture
        for t in workers:
            t.join(max(0.05, t_end - time.monotonic()))
        if any(t.is_alive() for t in workers):
            self._abort.set()
        for r in self._runners:
            r.queue.put(END, force=True)
        for r in self._runners:
            if not r.closed.wait(max(0.2, t_end + 0.4 - time.monotonic())):
                self._abort.set()
                log.warning("sink %s did not finish in time", r.name)
        self.stats.finish()
        self.stats.set_source_state("stopped")
