"""``camera-app run``: the pipeline from a source to sinks until stopped."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import replace
from typing import Any

from camera_app.cli import add_model_args
from camera_app.commands.common import model_options
from camera_app.errors import UsageError
from camera_app.inference.decoders import FAMILIES
from camera_app.inference.model import Model
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.service import Notifier, Watchdog, install_signal_handlers
from camera_app.sinks.base import Sink
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordSink
from camera_app.sources import SourceOptions, open_source, source_kind
from camera_app.sources.video import ReplayMode
from camera_app.stats import PipelineStats, status_line, summary_text

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "picamera2"


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="capture, infer and output until stopped")
    p.add_argument(
        "--source",
        default=None,
        help="picamera2[:N] (default), /dev/videoN or N, rtsp:// or http:// URL, a video file, "
        "a folder or glob of images",
    )
    add_model_args(p, model_positional=False)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--every-frame",
        dest="every_frame",
        action="store_true",
        default=None,
        help="process every frame of a file, never drop (default for files)",
    )
    mode.add_argument(
        "--realtime",
        dest="every_frame",
        action="store_false",
        help="replay a file at its own frame rate, dropping frames like a live camera",
    )
    p.add_argument("--loop", action="store_true", help="repeat a video file or image folder")
    p.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames"
    )
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--jsonl", metavar="PATH|-", help="write detections as JSON Lines (- for stdout)"
    )
    p.add_argument(
        "--record", metavar="PATH", help="record the annotated stream (.mp4, .avi, .mkv)"
    )
    p.add_argument("--quiet", action="store_true", help="warnings and errors only; no summary")
    p.set_defaults(handler=run)


def _check(args: argparse.Namespace) -> None:
    if not args.model:
        raise UsageError("run: --model is required (a .tflite file)")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"run: --max-frames must be >= 1, got {args.max_frames}")
    if args.family is not None and args.family not in FAMILIES:
        raise UsageError(
            f"run: unknown model family {args.family!r}; expected one of {', '.join(FAMILIES)}"
        )
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"run: --duration must be > 0, got {args.duration}")


def build_sinks(args: argparse.Namespace) -> list[Sink]:
    sinks: list[Sink] = []
    annotator = Annotator()
    if args.jsonl:
        sinks.append(JsonlSink(args.jsonl))
    if args.record:
        sinks.append(RecordSink(args.record, annotator))
    return sinks


def _lores_size(model: Model) -> tuple[int, int]:
    w, h = model.info.input_size_wh
    return (max(64, (w + 15) // 16 * 16), max(64, (h + 1) // 2 * 2))


def run(args: argparse.Namespace) -> int:
    _check(args)
    sinks = build_sinks(args)  # output paths are checked before anything starts
    source_spec = args.source or DEFAULT_SOURCE
    mode: ReplayMode | None = None
    if args.every_frame is not None:
        mode = "every-frame" if args.every_frame else "realtime"
    options = SourceOptions(mode=mode, loop=args.loop)
    source = None
    if source_kind(source_spec) != "picamera2":
        # Open files, devices and streams first: a bad source fails fast,
        # before the model is loaded.
        source = open_source(source_spec, options)
        source.start()
    try:
        model = Model(model_options(args))
        if source is None:  # picamera2 sizes its lores stream for the model
            source = open_source(source_spec, replace(options, lores_size_wh=_lores_size(model)))
        pipeline = Pipeline(
            source,
            model,
            sinks,
            PipelineOptions(
                every_frame=args.every_frame, max_frames=args.max_frames, duration_s=args.duration
            ),
        )
    except BaseException:
        for sink in sinks:  # the pipeline never ran: it would have closed them
            sink.close()
        if source is not None:
            source.stop()
        raise
    stats = run_pipeline(pipeline)
    if not args.quiet:
        print(summary_text(stats.snapshot()), file=sys.stderr)
    return 0


def run_pipeline(pipeline: Pipeline) -> PipelineStats:
    """Run with signal handling and the systemd protocol (no-op outside systemd).

    READY=1 after the first processed frame; WATCHDOG=1 only while frames
    keep flowing through inference; STATUS= with FPS and drops; STOPPING=1
    when shutting down.
    """
    stats = pipeline.stats
    notifier = Notifier.from_env()
    watchdog = Watchdog(
        notifier, progress=lambda: stats.processed, status=lambda: status_line(stats.snapshot())
    )
    stopping_sent = False

    def tick() -> None:
        nonlocal stopping_sent
        if stats.processed and not watchdog.is_ready:
            watchdog.first_frame()
        if pipeline.stopping and not stopping_sent:
            stopping_sent = True
            notifier.stopping()
        watchdog.tick(time.monotonic())

    restore = install_signal_handlers(pipeline.stop) if _main_thread() else None
    try:
        return pipeline.run(tick=tick)
    finally:
        if not stopping_sent:
            notifier.stopping()
        notifier.close()
        if restore is not None:
            restore()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
