"""The two baselines: ``bare`` (invoke alone) and ``naive`` (a plain loop).

``bare`` is the limit: frames are decoded and preprocessed ahead, untimed,
in chunks, then ``set_tensor`` + ``invoke`` run back to back and only that
is timed. ``naive`` is the loop tutorials write, one frame at a time on one
thread: read, resize, ``set_tensor``, ``invoke``, get the outputs, decode,
the analysis stages (``--track``), then every sink in turn (draw, encode,
write). Both use the same model
object, preprocessor, decoder and sinks as the pipeline, so the difference
is the architecture alone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from camera_app.bench.measure import CpuClock, ModeResult, StageTimes, ThreadCpu
from camera_app.errors import SourceError
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import Model
from camera_app.results import Timings
from camera_app.sinks.base import Sink
from camera_app.stats import PipelineStats

if TYPE_CHECKING:
    from camera_app.bench.analysis import NaiveAnalysis
    from camera_app.bench.motion import MotionStage

log = logging.getLogger(__name__)

CHUNK_FRAMES = 32


def open_video(path: Path) -> tuple[cv2.VideoCapture, SourceInfo]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"video {path}: cannot be opened")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    return cap, SourceInfo(name=str(path), kind="video", size_wh=(w, h), fps=fps)


def _input_buffer(model: Model, n: int) -> np.ndarray:
    shape = model.info.input.shape
    return np.empty((n, *shape[1:]), model.info.input.dtype)


def warm_up(model: Model, n: int = 5) -> None:
    """First invokes are slower (XNNPACK packs weights): keep them out."""
    for _ in range(n):
        model.interpreter.invoke()


def run_bare(model: Model, path: Path, frames: int) -> ModeResult:
    times = StageTimes()
    cap, _ = open_video(path)
    staged = _input_buffer(model, CHUNK_FRAMES)
    interp, index = model.interpreter, model.info.input.index
    clock, done = CpuClock(), 0
    try:
        while done < frames:
            n = 0
            while n < min(CHUNK_FRAMES, frames - done):
                t0 = time.perf_counter_ns()
                ok, image = cap.read()
                if not ok or image is None:
                    break
                t1 = time.perf_counter_ns()
                model.preprocessor(image, "BGR", staged[n])
                times.add("capture", (t1 - t0) / 1e6)
                times.add("preprocess", (time.perf_counter_ns() - t1) / 1e6)
                n += 1
            if n == 0:
                break
            clock.start()
            for i in range(n):
                t0 = time.perf_counter_ns()
                interp.set_tensor(index, staged[i : i + 1])
                interp.invoke()
                times.add("invoke", (time.perf_counter_ns() - t0) / 1e6)
            clock.stop()
            done += n
    finally:
        cap.release()
    return ModeResult("bare", done, clock.wall_s, clock.cpu_s, times.summary())


def run_naive(
    model: Model,
    path: Path,
    frames: int,
    sinks: list[Sink],
    analysis: NaiveAnalysis | None = None,
    motion: MotionStage | None = None,
) -> ModeResult:
    """``analysis``: the analysis stages (``bench --track``), between decoding
    and the sinks, each timed as ``analysis:<name>``; ``motion``: the motion
    detector (``bench --motion``) before preprocessing, timed as ``motion``."""
    times = StageTimes()
    stats = PipelineStats()
    for sink in sinks:
        sink.bind(stats, lambda: None)
    cap, info = open_video(path)
    fps = info.fps or 30.0
    staged = _input_buffer(model, 1)
    interp, index = model.interpreter, model.info.input.index
    outputs = [o.index for o in model.info.outputs]
    threads = ThreadCpu()
    clock, done = CpuClock().start(), 0
    try:
        while done < frames:
            t0 = time.perf_counter_ns()
            ok, image = cap.read()
            if not ok or image is None:
                break
            frame = Frame(image, done, time.monotonic_ns(), info, media_ms=done * 1000.0 / fps)
            t_read = t1 = time.perf_counter_ns()
            if motion is not None:
                motion.inline(frame, times.add)
                t1 = time.perf_counter_ns()
            transform = model.preprocessor(image, "BGR", staged[0])
            interp.set_tensor(index, staged)
            t2 = time.perf_counter_ns()
            interp.invoke()
            t3 = time.perf_counter_ns()
            decoded = model.decoder.decode([interp.get_tensor(i) for i in outputs], transform)
            t4 = time.perf_counter_ns()
            result = model.result(
                frame, decoded, Timings((t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6)
            )
            if analysis is not None:
                result = analysis.run(result, times.add)
            stats.on_processed(result.done_ns, result.latency_ms, {})
            for stage, t_a, t_b in (
                ("capture", t0, t_read),
                ("preprocess", t1, t2),
                ("invoke", t2, t3),
                ("decode", t3, t4),
            ):
                times.add(stage, (t_b - t_a) / 1e6)
            for sink in sinks:
                t5 = time.perf_counter_ns()
                sink.handle(result)
                times.add(f"sink:{sink.name}", (time.perf_counter_ns() - t5) / 1e6)
            done += 1
    finally:
        cap.release()
        try:
            if analysis is not None:
                analysis.close()  # ends the open events, as the pipeline does
        finally:
            for sink in sinks:
                sink.close()
            clock.stop()
        threads.sample()
    return ModeResult(
        "naive", done, clock.wall_s, clock.cpu_s, times.summary(), thread_cpu_s=threads.totals_s()
    )
