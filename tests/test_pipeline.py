"""The threaded pipeline: hand-offs, ordering, drops, errors, lifecycle."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.analysis.base import BaseProcessor
from camera_app.errors import InferenceError, RunError, SinkError, SourceError
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import Model, ModelOptions, Prepared
from camera_app.pipeline import HandOff, Pacing, Pipeline, PipelineOptions, Stopped
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sinks.record import RecordSink
from camera_app.sources import SourceOptions, open_source
from camera_app.sources.base import BaseSource


# -- HandOff ---------------------------------------------------------------
def test_handoff_drop_oldest_keeps_newest_and_counts() -> None:
    drops: list[int] = []
    q: HandOff[int] = HandOff(2, drop_oldest=True, stop=threading.Event(), on_drop=drops.append)
    for i in range(5):
        q.put(i)
    assert len(q) == 2
    assert [q.get(0.1), q.get(0.1)] == [3, 4]
    assert sum(drops) == 3


def test_handoff_blocking_put_gives_up_when_stopped() -> None:
    stop = threading.Event()
    q: HandOff[int] = HandOff(1, drop_oldest=False, stop=stop)
    q.put(1)
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            q.put(2)
        except Stopped as e:
            errors.append(e)

    t = threading.Thread(target=producer)
    t.start()
    stop.set()
    t.join(2.0)
    assert not t.is_alive() and len(errors) == 1
    assert len(q) == 1


def test_handoff_blocking_put_waits_for_room() -> None:
    q: HandOff[int] = HandOff(1, drop_oldest=False, stop=threading.Event())
    q.put(1)
    t = threading.Thread(target=q.put, args=(2,))
    t.start()
    assert q.get(1.0) == 1
    t.join(2.0)
    assert q.get(1.0) == 2


def test_handoff_get_times_out_and_force_put_never_drops() -> None:
    q: HandOff[object] = HandOff(1, drop_oldest=True, stop=threading.Event())
    with pytest.raises(TimeoutError):
        q.get(0.01)
    q.put(1)
    q.put("end", force=True)
    assert [q.get(0.1), q.get(0.1)] == [1, "end"]


# -- fakes -----------------------------------------------------------------
class ScriptedSource(BaseSource):
    """Synthetic frames; fails with SourceError after ``fail_after`` frames."""

    def __init__(
        self,
        n: int,
        fail_after: int | None = None,
        live: bool = False,
        size_wh: tuple[int, int] = (320, 240),
    ) -> None:
        super().__init__("scripted")
        self.n, self.fail_after, self.live, self.size_wh = n, fail_after, live, size_wh
        self.i = 0

    def start(self) -> SourceInfo:
        self._info = SourceInfo("scripted", "test", self.size_wh, fps=30.0, live=self.live)
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self.fail_after is not None and self.i >= self.fail_after:
            raise SourceError("scripted: camera unplugged")
        if self.i >= self.n or self._stopping.is_set():
            return None
        w, h = self.size_wh
        img = np.full((h, w, 3), (self.i * 7) % 256, np.uint8)
        self.i += 1
        return Frame(img, self._take_id(), time.monotonic_ns(), self.info)


class CollectSink(BaseSink):
    def __init__(self, name: str = "collect", fail_at: int | None = None) -> None:
        self.name = name
        self.ids: list[int] = []
        self.fail_at = fail_at
        self.closed = False

    def handle(self, result: FrameResult) -> None:
        if self.fail_at is not None and len(self.ids) == self.fail_at:
            raise OSError("disk full")
        self.ids.append(result.frame.frame_id)

    def close(self) -> None:
        self.closed = True


class SlowSink(BaseSink):
    """Takes ``delay_s`` per result: stands for a slow encoder or network."""

    def __init__(self, delay_s: float) -> None:
        self.name = "slow"
        self.delay_s = delay_s
        self.handled = 0

    def handle(self, result: FrameResult) -> None:
        time.sleep(self.delay_s)  # the work being simulated, not synchronisation
        self.handled += 1


@pytest.fixture(scope="module")
def ssd(models_dir: Path) -> Model:
    return Model(
        ModelOptions(
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            labels=str(models_dir / "coco_labels.txt"),
            num_threads=2,
        )
    )


# -- behaviour -------------------------------------------------------------
def test_every_frame_delivers_all_frames_in_order(ssd: Model) -> None:
    sinks = [CollectSink("a"), CollectSink("b")]
    stats = Pipeline(ScriptedSource(40), ssd, sinks).run()
    assert stats.processed == stats.captured == 40
    assert stats.snapshot().dropped_total == 0
    for s in sinks:
        assert s.ids == list(range(40)) and s.closed


def test_max_frames_stops_early(ssd: Model) -> None:
    sink = CollectSink()
    stats = Pipeline(ScriptedSource(100), ssd, [sink], PipelineOptions(max_frames=7)).run()
    assert stats.processed == 7 and sink.ids == list(range(7))


def test_source_failure_ends_run_with_error_and_outputs_intact(ssd: Model, tmp_path: Path) -> None:
    jsonl, video = tmp_path / "d.jsonl", tmp_path / "r.avi"
    sinks = [JsonlSink(str(jsonl)), RecordSink(str(video))]
    with pytest.raises(SourceError, match="camera unplugged"):
        Pipeline(ScriptedSource(100, fail_after=12), ssd, sinks).run()
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert [x["frame_id"] for x in lines] == list(range(12))
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12


def test_sink_exception_reaches_main_thread_and_other_sinks_close(ssd: Model) -> None:
    bad, good = CollectSink("bad", fail_at=5), CollectSink("good")
    with pytest.raises(SinkError, match="bad: disk full"):
        Pipeline(ScriptedSource(1000), ssd, [bad, good]).run()
    assert good.closed and bad.closed


def test_inference_exception_reaches_main_thread(
    ssd: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Boom(Model):
        def __init__(self) -> None:
            self.__dict__.update(ssd.__dict__)

        def infer(self, frame: Frame, prepared: Prepared | None = None) -> FrameResult:
            if frame.frame_id == 3:
                raise ValueError("bad tensor")
            return ssd.infer(frame, prepared)

    sink = CollectSink()
    with pytest.raises(InferenceError, match=r"inference failed.*bad tensor"):
        Pipeline(ScriptedSource(50), Boom(), [sink]).run()
    assert sink.ids == [0, 1, 2] and sink.closed


def test_preprocessing_exception_reaches_main_thread(ssd: Model) -> None:
    class Boom(Model):
        def __init__(self) -> None:
            self.__dict__.update(ssd.__dict__)

        def prepare(self, frame: Frame) -> Prepared:
            if frame.frame_id == 3:
                raise ValueError("odd frame")
            return ssd.prepare(frame)

    sink = CollectSink()
    on_capture = PipelineOptions(preprocess_on_capture=True)
    with pytest.raises(RunError, match=r"preprocessing failed.*odd frame"):
        Pipeline(ScriptedSource(50), Boom(), [sink], on_capture).run()
    assert sink.ids == [0, 1, 2] and sink.closed


@pytest.mark.parametrize("on_capture", [True, False])
def test_preprocessing_on_either_thread_gives_the_same_results(
    ssd: Model, videos_dir: Path, on_capture: bool
) -> None:
    expected = []
    source = open_source(str(videos_dir / "one-by-one-person-detection.mp4"))
    source.start()
    for _ in range(60):
        frame = source.read()
        assert frame is not None
        expected.append(ssd.infer(frame).detections.xyxy.round(1).tolist())
    source.stop()

    class Keep(CollectSink):
        def __init__(self) -> None:
            super().__init__()
            self.boxes: list[list[list[float]]] = []
            self.prepared_ms: list[float] = []

        def handle(self, result: FrameResult) -> None:
            super().handle(result)
            self.boxes.append(result.detections.xyxy.round(1).tolist())
            self.prepared_ms.append(result.timings.preprocess_ms)

    sink = Keep()
    options = PipelineOptions(
        pacing=Pacing.EVERY_FRAME, max_frames=60, preprocess_on_capture=on_capture
    )
    source = open_source(str(videos_dir / "one-by-one-person-detection.mp4"))
    Pipeline(source, ssd, [sink], options).run()
    assert sink.ids == list(range(60))
    assert sink.boxes == expected
    assert any(b for b in expected)  # people were found, not an empty comparison
    assert all(ms > 0 for ms in sink.prepared_ms)


def test_stop_from_another_thread_ends_live_run(ssd: Model) -> None:
    sink = CollectSink()
    pipe = Pipeline(ScriptedSource(10**9, live=True), ssd, [sink])
    t = threading.Timer(0.5, pipe.stop)
    t.start()
    t0 = time.monotonic()
    stats = pipe.run()
    assert time.monotonic() - t0 < 3.0
    assert stats.processed > 0 and sink.closed


def test_realtime_slow_consumer_does_not_slow_inference(models_dir: Path, videos_dir: Path) -> None:
    """Live pacing (10 fps file) with a sink 10x too slow: it drops, inference doesn't."""
    model = Model(
        ModelOptions(str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"), num_threads=2)
    )
    source = open_source(
        str(videos_dir / "one-by-one-person-detection.mp4"), SourceOptions(mode="realtime")
    )
    slow, fast = SlowSink(1.0), CollectSink("fast")
    pipe = Pipeline(source, model, [slow, fast], PipelineOptions(max_frames=30, sink_queue_size=2))
    snap = pipe.run().snapshot()
    assert snap.processed == 30
    assert snap.dropped.get("capture_queue", 0) == 0  # inference kept up with the camera
    assert fast.ids == list(range(30))  # a fast sink beside it missed nothing
    assert snap.dropped["sink:slow"] >= 20  # the slow one dropped, and it was counted
    assert slow.handled <= 5
    lat, inf = snap.timings_ms["latency"].p50, snap.timings_ms["inference"].p50
    assert lat is not None and inf is not None
    assert lat <= 2 * inf + 5.0, (lat, inf)  # +5 ms: decode/preprocess on a 2-core CI box


@pytest.mark.slow
@pytest.mark.parametrize(
    ("video", "label", "lines", "low", "high"),
    [
        ("one-by-one-person-detection.mp4", "person", 1394, 1034, 1054),
        ("bottle-detection.mp4", "bottle", 1189, 1160, 1189),
    ],
)
def test_every_frame_jsonl_matches_reference_counts(
    ssd: Model,
    videos_dir: Path,
    tmp_path: Path,
    video: str,
    label: str,
    lines: int,
    low: int,
    high: int,
) -> None:
    out = tmp_path / "d.jsonl"
    source = open_source(str(videos_dir / video))
    Pipeline(source, ssd, [JsonlSink(str(out))]).run()
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == lines
    assert [r["frame_id"] for r in recs] == list(range(lines))
    hits = sum(
        any(d["label"] == label and d["score"] >= 0.5 for d in r["detections"]) for r in recs
    )
    assert low <= hits <= high
    assert all(
        {"frame_id", "timestamp_ns", "media_ms", "latency_ms", "inference_ms", "detections"}
        <= r.keys()
        for r in recs
    )


def test_sink_bind_failure_closes_everything(ssd: Model) -> None:
    class BadBind(CollectSink):
        def bind(self, stats: object, stop: object) -> None:  # type: ignore[override]
            raise SinkError("web preview: cannot listen on 127.0.0.1:8080 (in use)")

    first, bad = CollectSink("first"), BadBind("bad")
    source = ScriptedSource(10)
    with pytest.raises(SinkError, match="cannot listen"):
        Pipeline(source, ssd, [first, bad]).run()
    assert first.closed and bad.closed
    assert source._stopping.is_set()


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_capture_and_sinks_yield_the_cpu_to_inference(ssd: Model) -> None:
    seen: dict[str, set[object]] = {"capture": set(), "inference": set(), "sink": set()}

    class Source(ScriptedSource):
        def read(self, timeout_s: float = 2.0) -> Frame | None:
            seen["capture"].add(_nice())
            return super().read(timeout_s)

    class Sink(CollectSink):
        def handle(self, result: FrameResult) -> None:
            seen["sink"].add((_nice(), sys.getswitchinterval()))
            super().handle(result)

    base, interval = _nice(), sys.getswitchinterval()
    pipeline = Pipeline(
        Source(5), ssd, [Sink()], PipelineOptions(pacing=Pacing.EVERY_FRAME, worker_nice=3)
    )
    pipeline.on_first_result = lambda r: seen["inference"].add(_nice())
    pipeline.run()
    assert seen == {
        "capture": {base + 3},
        "inference": {base},
        "sink": {(base + 3, 0.001)},
    }
    assert (_nice(), sys.getswitchinterval()) == (base, interval)  # the caller is untouched


@pytest.mark.parametrize(
    ("threads", "cores", "on_capture"),
    [(1, 2, True), (2, 2, False), (4, 2, False), (None, 4, False), (3, 4, True)],
)
def test_preprocessing_moves_to_capture_only_when_a_core_is_free(
    ssd: Model, monkeypatch: pytest.MonkeyPatch, threads: int | None, cores: int, on_capture: bool
) -> None:
    import camera_app.pipeline.core as pipeline_module

    monkeypatch.setattr(pipeline_module, "default_threads", lambda: cores)

    class Threads(Model):
        def __init__(self) -> None:
            self.__dict__.update(ssd.__dict__)
            self.options = replace(ssd.options, num_threads=threads)

    assert Pipeline(ScriptedSource(1), Threads()).preprocess_on_capture() is on_capture
    forced = PipelineOptions(preprocess_on_capture=not on_capture)
    assert (
        Pipeline(ScriptedSource(1), Threads(), options=forced).preprocess_on_capture()
        is not on_capture
    )


def test_handoff_drops_unprotected_items_first() -> None:
    """With a gate, frames chosen for inference are dropped last: losing one
    would silently lose a keep-alive or a detect-rate slot."""
    dropped: list[int] = []
    q: HandOff[int] = HandOff(
        2,
        drop_oldest=True,
        stop=threading.Event(),
        on_drop=dropped.append,
        keep=lambda x: x % 2 == 0,
    )
    for item in (0, 1, 3, 5):
        q.put(item)
    assert [q.get(0.1), q.get(0.1)] == [0, 5]  # 1 and 3 went, the protected 0 stayed
    assert dropped == [1, 1]
    for item in (2, 4, 6):  # all protected: the oldest goes, as without keep
        q.put(item)
    assert [q.get(0.1), q.get(0.1)] == [4, 6]


@pytest.mark.parametrize(
    ("options", "fail_at", "expect"),
    [
        (PipelineOptions(), 5, "failed: sink collect: disk full"),
        (PipelineOptions(duration_s=0.3), None, "duration reached (0.3 s)"),
    ],
    ids=["sink-failed", "duration"],
)
def test_capture_logs_why_it_stopped(
    ssd: Model,
    caplog: pytest.LogCaptureFixture,
    options: PipelineOptions,
    fail_at: int | None,
    expect: str,
) -> None:
    pipe = Pipeline(ScriptedSource(10**9, live=True), ssd, [CollectSink(fail_at=fail_at)], options)
    with caplog.at_level(logging.INFO, logger="camera_app.pipeline"):
        if fail_at is None:
            pipe.run()
        else:
            with pytest.raises(SinkError):
                pipe.run()
    assert pipe.stop_reason == expect
    assert f"capture stopped after {pipe.stats.captured} frames: {expect}" in caplog.text
    assert "source ended" not in caplog.text


# -- the analysis thread --------------------------------------------------------
class ProbeProcessor(BaseProcessor):
    """Records where and on what it runs; may fail on one frame."""

    name = "probe"

    def __init__(self, fail_at: int | None = None) -> None:
        self.threads: set[str] = set()
        self.ids: list[int] = []
        self.fail_at = fail_at
        self.closed = False

    def process(self, result: FrameResult) -> FrameResult:
        self.threads.add(threading.current_thread().name)
        if result.frame.frame_id == self.fail_at:
            raise ValueError("bad track")
        self.ids.append(result.frame.frame_id)
        return result

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(("own_thread", "where"), [(True, "analysis"), (False, "inference")])
def test_processors_run_in_order_on_their_thread(ssd: Model, own_thread: bool, where: str) -> None:
    probe, sink = ProbeProcessor(), CollectSink()
    options = PipelineOptions(analysis_thread=own_thread)
    stats = Pipeline(ScriptedSource(30), ssd, [sink], options, processors=[probe]).run()
    assert probe.threads == {where}
    assert probe.ids == sink.ids == list(range(30)) and stats.processed == 30
    assert probe.closed and sink.closed


def test_analysis_thread_by_default_only_when_inference_leaves_a_core(ssd: Model) -> None:
    cores = len(os.sched_getaffinity(0))
    for threads, expected in ((cores, False), (max(1, cores - 1), cores > 1)):
        pipeline = Pipeline(
            ScriptedSource(1),
            replace_threads(ssd, threads),
            processors=[ProbeProcessor()],
        )
        assert pipeline.analysis_thread() is expected, threads
    assert Pipeline(ScriptedSource(1), ssd).analysis_thread() is False  # nothing to run


def replace_threads(model: Model, threads: int) -> Model:
    clone = Model.__new__(Model)
    clone.__dict__.update(model.__dict__)
    clone.options = replace(model.options, num_threads=threads)
    return clone


def test_analysis_failure_reaches_main_thread_and_sinks_close(ssd: Model) -> None:
    probe, sink = ProbeProcessor(fail_at=4), CollectSink()
    options = PipelineOptions(analysis_thread=True)
    with pytest.raises(RunError, match=r"analysis failed.*bad track"):
        Pipeline(ScriptedSource(1000), ssd, [sink], options, processors=[probe]).run()
    assert sink.closed and probe.closed
    assert sink.ids == list(range(4)), "results after the failure never reach the sinks"


def test_max_frames_with_the_analysis_thread(ssd: Model) -> None:
    probe, sink = ProbeProcessor(), CollectSink()
    options = PipelineOptions(max_frames=7, analysis_thread=True)
    stats = Pipeline(ScriptedSource(100), ssd, [sink], options, processors=[probe]).run()
    assert stats.processed == 7 and sink.ids == probe.ids == list(range(7))
