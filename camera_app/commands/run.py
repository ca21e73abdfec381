"""``camera-app run``: the pipeline from a source to sinks until stopped.

Settings come from ``--config FILE`` (validated before anything starts) and
the flags, which override the file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from typing import Any

from camera_app.cli import add_model_args
from camera_app.commands.settings import (
    RunSettings,
    build_run,
    build_sinks,
    make_source,
    run_config,
)
from camera_app.errors import UsageError
from camera_app.inference.model import Model
from camera_app.logs import StatusReporter, setup_logging
from camera_app.pipeline import Pipeline
from camera_app.service import Notifier, Watchdog, install_signal_handlers
from camera_app.sinks.base import Sink
from camera_app.sinks.overlay import Annotator
from camera_app.sources import source_kind
from camera_app.sources.base import Source
from camera_app.sources.reconnect import ReconnectingSource
from camera_app.stats import PipelineStats, status_line, summary_text

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="capture, infer and output until stopped")
    p.add_argument("--config", metavar="FILE", help="a camera-app.toml; flags override it")
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
    p.add_argument(
        "--mqtt",
        metavar="HOST[:PORT]",
        help="publish detections and object counts to this MQTT broker (see [sinks.mqtt])",
    )
    p.add_argument(
        "--preview",
        choices=["none", "window", "web"],
        default=None,
        help="a desktop window (VNC) or a web page with the live annotated stream",
    )
    p.add_argument("--web-host", default=None, help="web preview address (default 127.0.0.1)")
    p.add_argument("--web-port", type=int, default=None, help="web preview port (default 8080)")
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve the web preview on a non-local address without a token",
    )
    p.add_argument(
        "--overlay-width",
        type=int,
        default=None,
        metavar="PX",
        help="draw, record and preview at most this wide (1080p on a Pi: 1280)",
    )
    p.add_argument("--quiet", action="store_true", help="warnings and errors only; no summary")
    p.set_defaults(handler=run)


def _lores_size(model: Model) -> tuple[int, int]:
    """picamera2's lores stream at about the model's input size (even, aligned)."""
    w, h = model.info.input_size_wh
    return (max(64, (w + 15) // 16 * 16), max(64, (h + 1) // 2 * 2))


def preview_sinks(s: RunSettings, annotator: Annotator, insecure_no_auth: bool) -> list[Sink]:
    mode = s.preview.mode
    if mode == "window":
        from camera_app.sinks.window import WindowPreviewSink

        return [WindowPreviewSink(annotator=annotator)]
    if mode == "web":
        from camera_app.sinks.web import WebPreviewSink

        return [
            WebPreviewSink(
                host=s.preview.web_host,
                port=s.preview.web_port,
                token=s.web_token,
                insecure_no_auth=s.preview.insecure_no_auth or insecure_no_auth,
                annotator=annotator,
                max_clients=s.preview.max_clients,
            )
        ]
    return []


def run(args: argparse.Namespace) -> int:
    if args.config is None and not args.model:
        raise UsageError("run: --model is required (a .tflite file), or --config FILE")
    s = build_run(run_config(args))
    if not (args.log_level or args.debug or args.quiet):
        setup_logging(s.logging.level)
    annotator = Annotator(hud=s.overlay.hud, max_width=s.overlay.max_width)
    sinks = build_sinks(s, annotator) + preview_sinks(s, annotator, args.insecure_no_auth)
    stats = PipelineStats()
    source: Source | None = None
    try:
        if source_kind(s.source_spec) != "picamera2":
            # Open files, devices and streams first: a bad source fails
            # fast, before the model is loaded.
            source = make_source(s, None, stats)
            source.start()
        model = Model(s.model)
        if source is None:  # picamera2 sizes its lores stream for the model
            source = make_source(s, _lores_size(model), stats)
        pipeline = Pipeline(source, model, sinks, s.pipeline, stats)
    except BaseException:
        for sink in sinks:  # the pipeline never ran: it would have closed them
            sink.close()
        if source is not None:
            source.stop()
        raise
    if isinstance(source, ReconnectingSource):
        source.bind(on_event=pipeline.emit)
    run_pipeline(pipeline, s)
    if not args.quiet:
        print(summary_text(stats.snapshot()), file=sys.stderr)
    return 0


def run_pipeline(pipeline: Pipeline, settings: RunSettings | None = None) -> PipelineStats:
    """Run with signal handling, the systemd protocol and periodic status logs.

    READY=1 after the first processed frame; WATCHDOG=1 only while frames
    keep flowing through inference; STATUS= with FPS and drops; STOPPING=1
    when shutting down. Outside systemd (no NOTIFY_SOCKET) these are no-ops.
    """
    stats = pipeline.stats
    service = settings.service if settings is not None else None
    notifier = Notifier.from_env() if service is None or service.notify else Notifier(None)
    watchdog = Watchdog(
        notifier,
        progress=lambda: stats.processed,
        interval_s=None if service is None or service.watchdog else 1e9,
        status=lambda: status_line(stats.snapshot()),
    )
    reporter = StatusReporter(stats, settings.logging.status_interval_s if settings else 0.0)
    stopping_sent = False

    def tick() -> None:
        nonlocal stopping_sent
        now = time.monotonic()
        if stats.processed and not watchdog.is_ready:
            watchdog.first_frame()
        if pipeline.stopping and not stopping_sent:
            stopping_sent = True
            notifier.stopping()
        watchdog.tick(now)
        reporter.tick(now)

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
