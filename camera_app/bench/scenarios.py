"""One bench run: prepare the clip, load the model once, measure each mode."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from camera_app.bench.analysis import NaiveAnalysis, build_analysis
from camera_app.bench.measure import (
    CpuClock,
    ModeResult,
    StageTimes,
    ThreadCpu,
    TimedSource,
    peak_rss_mb,
    rss_mb,
    summarize,
)
from camera_app.bench.motion import MotionStage
from camera_app.bench.naive import open_video, run_bare, run_naive, warm_up
from camera_app.bench.sinks import build_sinks
from camera_app.config import AppConfig
from camera_app.errors import SourceError
from camera_app.inference.model import Model, ModelOptions
from camera_app.motion.config import MotionConfig
from camera_app.pipeline import Pacing, Pipeline, PipelineOptions
from camera_app.sources.video import VideoFileSource
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

MODES = ("bare", "naive", "pipeline", "realtime")
_STAGE_NAMES = {"inference": "invoke"}


@dataclass(frozen=True)
class BenchOptions:
    model: ModelOptions
    source: Path
    sinks: tuple[str, ...] = ("jsonl",)
    frames: int = 300
    realtime_frames: int = 200
    realtime_fps: float | None = None
    upscale_wh: tuple[int, int] | None = None
    loop_frames: int | None = None
    warmup_frames: int | None = None
    skip: frozenset[str] = frozenset()
    repeat: int = 1
    web_clients: int = 1
    overlay_width: int | None = None
    queue_size: int = 2
    record_format: str = "mp4"
    worker_nice: int = 0
    analysis: AppConfig | None = None
    """The config the analysis stages are built from (``--track``); None: no analysis."""
    motion: MotionConfig | None = None
    """The motion detector's settings (``--motion``): timed on every frame; None: off."""


def make_upscaled(src: Path, size_wh: tuple[int, int], frames: int, out_dir: Path) -> Path:
    """Write the first ``frames`` frames of ``src`` resized to ``size_wh`` (mp4v)."""
    cap, info = open_video(src)
    path = out_dir / f"upscaled_{size_wh[0]}x{size_wh[1]}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), info.fps or 30.0, size_wh)
    if not writer.isOpened():
        cap.release()
        raise SourceError(f"bench: cannot write the upscaled clip {path}")
    n = 0
    try:
        while n < frames:
            ok, image = cap.read()
            if not ok or image is None:
                break
            writer.write(cv2.resize(image, size_wh, interpolation=cv2.INTER_LINEAR))
            n += 1
    finally:
        cap.release()
        writer.release()
    if n == 0:
        raise SourceError(f"video {src}: no frame could be decoded")
    log.info("bench: wrote %d frames of %dx%d to %s", n, *size_wh, path)
    return path


def run_pipeline_mode(
    model: Model,
    opts: BenchOptions,
    clip: Path,
    out_dir: Path,
    mode: str,
    frames: int,
    on_tick: Callable[[int], None] | None = None,
) -> ModeResult:
    """``pipeline`` (every frame), ``realtime`` (paced, live) or ``soak`` (looped)."""
    realtime = mode == "realtime"
    video = VideoFileSource(
        clip,
        mode="realtime" if realtime else "every-frame",
        loop=mode == "soak",
        fps=opts.realtime_fps if realtime else None,
    )
    times = StageTimes()
    source = TimedSource(video, times, paced=realtime)
    # sinks first: a realtime source starts its clock when started
    sinkset = build_sinks(
        opts.sinks, out_dir, mode, opts.web_clients, opts.overlay_width, opts.record_format
    )
    try:
        info = source.start()
    except BaseException:
        sinkset.close_viewers()
        for sink in sinkset.sinks:
            sink.close()
        raise
    stats = PipelineStats()
    processors = [] if opts.analysis is None else build_analysis(opts.analysis, model, stats)
    gate = (
        None
        if opts.motion is None
        else MotionStage(opts.motion, every_frame=not realtime, stats=stats)
    )
    pipeline = Pipeline(
        source,
        model,
        sinkset.sinks,
        PipelineOptions(
            pacing=Pacing.REALTIME if realtime else Pacing.EVERY_FRAME,
            max_frames=frames,
            queue_size=opts.queue_size,
            worker_nice=opts.worker_nice,
        ),
        stats,
        processors,
        gate,
    )
    threads = ThreadCpu()

    def tick() -> None:
        threads.sample()
        if on_tick is not None:
            on_tick(stats.processed)

    clock = CpuClock().start()
    try:
        pipeline.run(tick=tick)
    finally:
        clock.stop()
        counters = sinkset.counters()
        sinkset.close_viewers()
    for name, reservoir in stats.timings.items():
        if name != "latency":
            times.samples[_STAGE_NAMES.get(name, name)] = list(reservoir.values())
    latency = list(stats.timings["latency"].values())
    snap = stats.snapshot()
    # frames never inferred; lossy sinks (previews) dropping results is by design
    dropped = int(snap.dropped.get("capture_queue", 0))
    extra: dict[str, Any] = {"dropped_by_stage": dict(snap.dropped)} if snap.dropped else {}
    extra.update(counters)
    if realtime:
        extra["paced_fps"] = info.fps
    return ModeResult(
        mode,
        stats.processed,
        clock.wall_s,
        clock.cpu_s,
        times.summary(),
        latency=summarize(latency) if realtime else None,
        dropped=dropped,
        thread_cpu_s=threads.totals_s(),
        extra=extra,
        latency_samples_ms=latency if realtime else [],
    )


def run_soak(model: Model, opts: BenchOptions, clip: Path, out_dir: Path) -> ModeResult:
    """Every-frame, looped, ``loop_frames`` long: RSS after warm-up and at the end.

    "At the end" is the last reading while frames still flowed (queues full,
    sinks open), not after the run freed them, so growth is not understated.
    """
    assert opts.loop_frames is not None
    warmup = opts.warmup_frames or min(500, max(1, opts.loop_frames // 5))
    samples: list[tuple[int, float]] = []
    at_warmup: list[float] = []
    last: list[float] = []
    peak = [0.0]

    def on_tick(processed: int) -> None:
        rss = rss_mb()
        if processed >= warmup:
            if not at_warmup:
                at_warmup.append(rss)
            last[:] = [rss]
            peak[0] = max(peak[0], rss)
        if not samples or processed - samples[-1][0] >= 50:
            samples.append((processed, round(rss, 2)))

    result = run_pipeline_mode(model, opts, clip, out_dir, "soak", opts.loop_frames, on_tick)
    after = rss_mb()
    start = at_warmup[0] if at_warmup else after
    end = last[0] if last else after
    result.extra.update(
        rss_warmup_mb=round(start, 2),
        rss_end_mb=round(end, 2),
        rss_max_after_warmup_mb=round(max(peak[0], end), 2),
        rss_after_run_mb=round(after, 2),
        rss_growth_mb=round(end - start, 2),
        warmup_frames=warmup,
        rss_samples=samples,
    )
    return result


def _median_run(runs: Sequence[ModeResult]) -> ModeResult:
    ordered = sorted(runs, key=lambda r: r.fps)
    return ordered[(len(ordered) - 1) // 2]


def run_bench(opts: BenchOptions, out_dir: Path | None = None) -> dict[str, Any]:
    """Measure every mode not skipped; returns the report (see ``report.build``)."""
    with tempfile.TemporaryDirectory(prefix="camera-app-bench-") as tmp:
        work = out_dir or Path(tmp)
        clip = opts.source
        if opts.upscale_wh is not None:
            need = max(opts.frames, opts.realtime_frames if "realtime" not in opts.skip else 0)
            clip = make_upscaled(opts.source, opts.upscale_wh, need, work)
        model = Model(opts.model)
        try:
            warm_up(model)
            rss_start = rss_mb()
            runs: dict[str, list[ModeResult]] = {}
            for rep in range(opts.repeat):
                # alternate the order so a neighbour's burst does not always hit one mode
                order = ("bare", "naive", "pipeline")
                for mode in order if rep % 2 == 0 else order[::-1]:
                    if mode in opts.skip:
                        continue
                    log.info("bench: %s (run %d of %d)", mode, rep + 1, opts.repeat)
                    if mode == "bare":
                        r = run_bare(model, clip, opts.frames)
                    elif mode == "naive":
                        sinks = build_sinks(
                            opts.sinks,
                            work,
                            "naive",
                            opts.web_clients,
                            opts.overlay_width,
                            opts.record_format,
                        )
                        analysis = None
                        if opts.analysis is not None:
                            processors = build_analysis(opts.analysis, model, PipelineStats())
                            analysis = NaiveAnalysis(processors, sinks.sinks)
                        motion = (
                            None
                            if opts.motion is None
                            else MotionStage(opts.motion, every_frame=True)
                        )
                        try:
                            r = run_naive(model, clip, opts.frames, sinks.sinks, analysis, motion)
                            r.extra.update(sinks.counters())
                        finally:
                            sinks.close_viewers()
                    else:
                        r = run_pipeline_mode(model, opts, clip, work, "pipeline", opts.frames)
                    runs.setdefault(mode, []).append(r)
            chosen = {mode: _median_run(rs) for mode, rs in runs.items()}
            fps_runs = {mode: [round(r.fps, 2) for r in rs] for mode, rs in runs.items()}
            if "realtime" not in opts.skip:
                log.info("bench: realtime")
                chosen["realtime"] = run_pipeline_mode(
                    model, opts, clip, work, "realtime", opts.realtime_frames
                )
            if opts.loop_frames:
                log.info("bench: soak, %d frames looped", opts.loop_frames)
                chosen["soak"] = run_soak(model, opts, clip, work)
        finally:
            model.close()
        cap, clip_info = open_video(clip)
        cap.release()
    return {
        "results": chosen,
        "fps_runs": fps_runs,
        "clip": {
            "path": str(opts.source),
            "size_wh": list(clip_info.size_wh),
            "fps": clip_info.fps,
            "upscaled": opts.upscale_wh is not None,
        },
        "rss_start_mb": round(rss_start, 2),
        "peak_rss_mb": round(peak_rss_mb(), 2),
        "median_of": opts.repeat,
    }
