"""The capture thread's loop (camera_app/pipeline/capture.py): frames no sink
wants are counted there, and only while the inference thread has nothing in hand."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import Model, ModelOptions
from camera_app.pipeline import INFER, GateDecision, HandOff, Pipeline
from camera_app.pipeline.capture import capture_loop
from camera_app.pipeline.sink_runner import END
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.sources.base import BaseSource
from camera_app.stats import PipelineStats

SKIP = GateDecision(False, "no_motion")


class Frames(BaseSource):
    def __init__(self, n: int) -> None:
        super().__init__("frames")
        self.n = n
        self._info = SourceInfo("frames", "test", (32, 24), fps=30.0)

    def start(self) -> SourceInfo:
        return self.info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._next_id >= self.n:
            return None
        return Frame(
            np.zeros((24, 32, 3), np.uint8), self._take_id(), time.monotonic_ns(), self.info
        )


class FirstOfEvery:
    """Infers frame 0, 10, 20...: a still scene's keep-alives."""

    def check(self, frame: Frame) -> GateDecision:
        return INFER if frame.frame_id % 10 == 0 else SKIP


def run_capture(n: int, frames: HandOff[Any], stats: PipelineStats, keep_gated: bool) -> None:
    capture_loop(
        Frames(n),
        frames,
        stop=threading.Event(),
        stop_reason=lambda: None,
        stats=stats,
        gate=FirstOfEvery(),
        prepare=None,
        limit=None,
        read_timeout_s=1.0,
        worker_nice=0,
        fail=lambda *a, **k: None,
        keep_gated=keep_gated,
    )


def drained(frames: HandOff[Any]) -> list[Any]:
    out = []
    while len(frames):
        out.append(frames.get(0.1))
    return out


def test_gated_frames_go_to_the_inference_thread_when_a_sink_wants_them() -> None:
    frames: HandOff[Any] = HandOff(100, drop_oldest=False, stop=threading.Event())
    stats = PipelineStats()
    run_capture(25, frames, stats, keep_gated=True)
    items = drained(frames)
    assert [item[0].frame_id for item in items[:-1]] == list(range(25)) and items[-1] is END
    assert stats.captured == 25 and stats.gated_total == 0  # counted where they are passed on


def test_gated_frames_queue_behind_a_frame_the_inference_thread_has_not_finished() -> None:
    """So a hung interpreter still stops ``frames_through`` (the watchdog)."""
    frames: HandOff[Any] = HandOff(100, drop_oldest=False, stop=threading.Event())
    stats = PipelineStats()
    run_capture(25, frames, stats, keep_gated=False)
    # nothing took frame 0 off the queue: while it waits, gated frames queue behind it
    items = drained(frames)
    assert [item[0].frame_id for item in items[:-1]] == list(range(25))
    assert stats.gated_total == 0


def test_while_the_inference_thread_keeps_up_only_inferred_frames_cross() -> None:
    """A consumer that finishes each item (task_done) before the next frame:
    the gated frames are counted at capture, the inferred ones handed over."""
    frames: HandOff[Any] = HandOff(100, drop_oldest=False, stop=threading.Event())
    stats = PipelineStats()
    handed: list[int] = []
    original_put = frames.put

    def put_and_finish(item: Any, force: bool = False) -> None:  # an instant inference thread
        original_put(item, force)
        if item is not END:
            handed.append(frames.get(0.1)[0].frame_id)
            frames.task_done()

    frames.put = put_and_finish  # type: ignore[method-assign]
    run_capture(25, frames, stats, keep_gated=False)
    assert handed == [0, 10, 20]
    assert stats.captured == 25 and stats.gated_total == 22 and stats.gated["no_motion"] == 22
    assert stats.frames_through == 22  # + 3 once the inference thread counts its results


def test_handoff_unfinished_counts_items_until_done_or_dropped() -> None:
    q: HandOff[int] = HandOff(2, drop_oldest=True, stop=threading.Event())
    q.put(1)
    q.put(2)
    assert q.unfinished == 2
    q.put(3)  # 1 dropped
    assert q.unfinished == 2
    assert q.get(0.1) == 2
    assert q.unfinished == 2  # taken, being worked on
    q.task_done()
    assert q.unfinished == 1


class Collect(BaseSink):
    def __init__(self, wants_gated: bool) -> None:
        self.name = f"collect-{wants_gated}"
        self.wants_gated = wants_gated
        self.results: list[FrameResult] = []

    def handle(self, result: FrameResult) -> None:
        self.results.append(result)


@pytest.fixture(scope="module")
def ssd(models_dir: Path) -> Model:
    return Model(
        ModelOptions(str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"), num_threads=1)
    )


@pytest.mark.parametrize("wants_gated", [True, False])
def test_sinks_get_gated_results_when_one_wants_them_and_the_counts_agree(
    ssd: Model, wants_gated: bool
) -> None:
    sink = Collect(wants_gated)
    stats = Pipeline(Frames(45), ssd, [sink], gate=FirstOfEvery()).run()
    assert stats.captured == 45 and stats.processed == 5 and stats.gated_total == 40
    assert stats.frames_through == 45
    inferred = [r.frame.frame_id for r in sink.results if r.inferred]
    assert inferred == [0, 10, 20, 30, 40]
    if wants_gated:
        assert [r.frame.frame_id for r in sink.results] == list(range(45))
    else:
        assert len(sink.results) == 5
