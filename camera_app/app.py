"""The composition root: config (plus command-line flags) to a run's objects.

``camera-app run`` calls, in order::

    config = config_from_args(args)          # file + flags, validated, files checked
    run = build_run(config)                  # source first (fails fast), model,
                                             # processors, sinks, the pipeline
    run.pipeline.run(...)

Components (sinks, analysis processors) are looked up in
:mod:`camera_app.components`; this module knows none of them by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from camera_app.analysis.base import Processor
from camera_app.annotators.zones import annotators_for
from camera_app.clips.packets import PacketBus
from camera_app.components import (
    PROCESSORS,
    SINKS,
    BuildContext,
    decode_floor,
)
from camera_app.config import AppConfig
from camera_app.errors import ConfigError
from camera_app.events import Event
from camera_app.http.build import build_server
from camera_app.http.server import HttpServer
from camera_app.inference.model import Model, ModelOptions, delegates_from
from camera_app.inference.preprocess import PreprocessOptions
from camera_app.inference.types import DecodeOptions
from camera_app.motion.annotate import MotionAnnotator
from camera_app.motion.frame_gate import MotionFrameGate
from camera_app.motion.gate import TRACKS_INTERVAL_S

# the command line's part lives in camera_app.overrides; re-exported for callers
from camera_app.overrides import cli_overrides, config_from_args, with_values
from camera_app.pipeline import Pacing, Pipeline, PipelineOptions
from camera_app.sinks.base import Sink
from camera_app.sources import SourceOptions, open_source, source_kind
from camera_app.sources.base import Source
from camera_app.sources.reconnect import ReconnectingSource
from camera_app.stats import PipelineStats

__all__ = [
    "Run",
    "build_gate",
    "build_processors",
    "build_run",
    "build_sinks",
    "cli_overrides",
    "config_from_args",
    "lores_size",
    "make_source",
    "model_options",
    "pacing",
    "pipeline_options",
    "summary",
    "with_values",
]

LIVE_KINDS = frozenset({"picamera2", "v4l2", "stream"})


# -- the objects -------------------------------------------------------------
def model_options(config: AppConfig) -> ModelOptions:
    """The one place a config becomes :class:`ModelOptions` (run, detect, bench)."""
    m, d, p = config.model, config.detect, config.model.preprocess
    floor = decode_floor(config)
    if m.path is None:
        raise ConfigError("model.path: required (a .tflite file)")
    return ModelOptions(
        path=m.path,
        labels=m.labels,
        label_offset=m.label_offset,
        family=m.family,
        num_threads=m.threads,
        delegates=delegates_from(m.delegates),
        decode=DecodeOptions(
            max_detections=d.max_detections,
            class_agnostic_nms=d.class_agnostic_nms,
            top_k=d.top_k,
            box_format=d.box_format,
        ),
        classes=d.classes,
        # with tracking, the decoders keep low-score boxes for the tracker and
        # the filter stage applies the thresholds
        threshold=d.threshold if floor is None else floor,
        iou_threshold=d.iou_threshold,
        preprocess=PreprocessOptions(
            color=p.color,
            resize=p.resize,
            pad_value=p.pad_value,
            mean=p.mean,
            std=p.std,
            interpolation=p.interpolation,
        ),
    )


def pacing(config: AppConfig) -> Pacing:
    live = source_kind(config.source.spec) in LIVE_KINDS
    return Pacing.decide(live, config.source.mode)


def pipeline_options(config: AppConfig) -> PipelineOptions:
    pl = config.pipeline
    return PipelineOptions(
        pacing=pacing(config),
        # with a gate most frames only pass through: room for several, so a
        # slow inference does not drop frames the preview and recording want
        queue_size=max(pl.queue_size, 8)
        if config.motion.enabled or config.detect.fps
        else pl.queue_size,
        sink_queue_size=pl.sink_queue_size,
        max_frames=pl.max_frames,
        duration_s=pl.duration_s,
        read_timeout_s=config.source.read_timeout_s,
        worker_nice=pl.worker_nice,
    )


def make_source(
    config: AppConfig,
    lores_size_wh: tuple[int, int] | None = None,
    stats: PipelineStats | None = None,
    packets: PacketBus | None = None,
) -> Source:
    """The source; live ones wrapped in a :class:`ReconnectingSource` when
    ``reconnect.enabled`` (call ``source.bind(on_event=pipeline.emit)``)."""
    s = config.source
    p = pacing(config)
    options = SourceOptions(
        mode="realtime" if p is Pacing.REALTIME else "every-frame",
        loop=s.loop,
        size_wh=s.size_wh,
        fps=s.fps,
        lores_size_wh=s.lores_size_wh or lores_size_wh,
        timeout_s=s.read_timeout_s,
        packets=packets,
    )
    spec, r = s.spec, config.reconnect
    if not (p is Pacing.LIVE and r.enabled):
        return open_source(spec, options)
    return ReconnectingSource(
        lambda: open_source(spec, options),
        name=spec,
        stall_timeout_s=r.stall_timeout_s,
        initial_delay_s=r.initial_delay_s,
        max_delay_s=r.max_delay_s,
        stats=stats,
    )


def probe_source(config: AppConfig) -> None:
    """Open the source on its own and close it: raises what opening it raises
    (a start-up waiting for its camera, :mod:`camera_app.startup`)."""
    source = make_source(config)
    try:
        source.start()
    finally:
        source.stop()


def lores_size(model: Model) -> tuple[int, int]:
    """picamera2's lores stream at about the model's input size (even, aligned)."""
    w, h = model.info.input_size_wh
    return (max(64, (w + 15) // 16 * 16), max(64, (h + 1) // 2 * 2))


def build_sinks(ctx: BuildContext) -> list[Sink]:
    """Every sink the config turns on, in registry order."""
    sinks: list[Sink] = []
    try:
        for c in SINKS:
            sink = c.build(ctx.section(c.section), ctx)
            if sink is not None:
                sinks.append(sink)
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def build_processors(ctx: BuildContext) -> list[Processor]:
    """The analysis stages the config turns on, in registry order."""
    out: list[Processor] = []
    for c in PROCESSORS:
        p = c.build(ctx.section(c.section), ctx)
        if p is not None:
            out.append(p)
    return out


@dataclass
class Run:
    """Everything one run is made of; :meth:`close` releases what was built
    when the pipeline never runs (it closes them itself otherwise)."""

    config: AppConfig
    stats: PipelineStats
    pipeline: Pipeline
    sinks: list[Sink] = field(default_factory=list)
    http: HttpServer | None = None
    """Bound, not started: the caller starts it and closes it after the run."""


def build_gate(
    config: AppConfig, stats: PipelineStats, processors: list[Processor], keep_changed: bool
) -> MotionFrameGate | None:
    """Motion gating and the detect rate, on the capture thread; None when
    neither is asked for (every frame is inferred, as always)."""
    if not (config.motion.enabled or config.detect.fps):
        return None
    counters = [p for p in processors if hasattr(p, "active_tracks")]
    tracker = config.section("tracker")
    return MotionFrameGate(
        config.motion,
        config.detect.fps,
        # still tracked objects are looked at often enough never to be lost
        tracks_interval_s=min(TRACKS_INTERVAL_S, tracker.max_disappeared_s / 4),
        every_frame=pacing(config) is Pacing.EVERY_FRAME,
        active_tracks=lambda: sum(int(getattr(p, "active_tracks", 0)) for p in counters),
        stats=stats,
        keep_changed=keep_changed,
    )


def build_http(
    config: AppConfig,
    stats: PipelineStats,
    environ: Mapping[str, str],
    insecure_no_auth: bool = False,
) -> HttpServer | None:
    """The run's HTTP server ([http] listen, or the web preview's address),
    bound, not started; None when nothing asks for one."""
    preview = config.section("preview")
    return build_server(
        config.http,
        stats,
        environ,
        preview_address=(preview.web_host, preview.web_port) if preview.mode == "web" else None,
        preview_token=preview.token,
        insecure_no_auth=preview.insecure_no_auth or insecure_no_auth,
    )


def build_run(
    config: AppConfig,
    environ: Mapping[str, str] | None = None,
    insecure_no_auth: bool = False,
    motion_debug: bool = False,
) -> Run:
    """Source (opened first, so a bad one fails before the model loads), model,
    processors, sinks and the pipeline joining them."""
    stats = PipelineStats()
    env = os.environ if environ is None else environ
    http = build_http(config, stats, env, insecure_no_auth)
    ctx = BuildContext(
        config=config, stats=stats, environ=env, http=http, insecure_no_auth=insecure_no_auth
    )
    try:
        sinks = build_sinks(ctx)
    except BaseException:
        if http is not None:
            http.close()
        raise
    source: Source | None = None
    try:
        if source_kind(config.source.spec) != "picamera2":
            source = make_source(config, None, stats, ctx.packets)
            source.start()
        model = Model(model_options(config))
        ctx.model = model
        if source is None:  # picamera2 sizes its lores stream for the model
            source = make_source(config, lores_size(model), stats, ctx.packets)
            source.start()  # a camera that is not there fails here, before the run
        processors = build_processors(ctx)
        gate = build_gate(config, stats, processors, keep_changed=motion_debug)
        if motion_debug and ctx.annotator is not None:
            ctx.annotator.add(MotionAnnotator(config.motion.mask))
        if ctx.annotator is not None:  # zones and lines on previews and recordings
            for a in annotators_for(config):
                ctx.annotator.add(a)
        pipeline = Pipeline(source, model, sinks, pipeline_options(config), stats, processors, gate)
    except BaseException:
        for sink in sinks:  # the pipeline never ran: it would have closed them
            sink.close()
        if source is not None:
            source.stop()
        if http is not None:
            http.close()
        raise
    if isinstance(source, ReconnectingSource):
        source.bind(on_event=_source_events(pipeline, http))
    return Run(config, stats, pipeline, sinks, http)


def _source_events(pipeline: Pipeline, http: HttpServer | None) -> Callable[[Event], None]:
    """Camera up/down to the sinks, and to /healthz so it can say why."""

    def on_event(event: Event) -> None:
        if http is not None:
            http.on_event(event)
        pipeline.emit(event)

    return on_event


def summary(config: AppConfig) -> str:
    """One line for ``check-config``: what a run with this config would do."""
    outs = [d for c in SINKS if (d := c.describe(config.section(c.section)))]
    return (
        f"source {config.source.spec} ({source_kind(config.source.spec)}), "
        f"model {config.model.path}, outputs: {', '.join(outs) or 'none'}"
    )
