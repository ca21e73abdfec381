"""``camera-app run``: the pipeline from a source to sinks until stopped.

Settings come from ``--config FILE`` (validated before anything starts) and
the flags, which override the file; :mod:`camera_app.app` builds the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import Any

from camera_app.app import Run, build_run, config_from_args, probe_source
from camera_app.commands.args import (
    add_component_flags,
    add_config_arg,
    add_model_args,
    positive_float,
)
from camera_app.config import AppConfig
from camera_app.errors import UsageError
from camera_app.logs import StatusReporter, setup_logging
from camera_app.overrides import check_config_files
from camera_app.pipeline import Pipeline
from camera_app.service import (
    Notifier,
    Watchdog,
    enable_crash_tracebacks,
    install_signal_handlers,
)
from camera_app.signals import Interrupted, checkpoint, installed_stop_signals
from camera_app.startup import StartupWait, missing_model, start_when_ready
from camera_app.stats import PipelineStats, status_line, summary_text

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="capture, infer and output until stopped")
    add_config_arg(p)
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
        "--overlay-width",
        type=int,
        default=None,
        metavar="PX",
        help="draw, record and preview at most this wide (1080p on a Pi: 1280)",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="serve /healthz, /metrics and /api/stats here; --preview web joins it ([http] listen)",
    )
    p.add_argument(
        "--motion",
        action="store_true",
        help="infer only while something moves, tracked objects are active, or at the "
        "keep-alive ([motion])",
    )
    p.add_argument(
        "--detect-fps",
        type=positive_float,
        default=None,
        metavar="FPS",
        help="infer at most this many frames a second ([detect] fps); previews and "
        "recordings keep the source's rate",
    )
    p.add_argument(
        "--motion-debug",
        action="store_true",
        help="draw motion boxes, changed pixels and the motion mask on previews and recordings",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="a missing model file or camera is waited for, with the reason in systemd's "
        "status and /healthz, instead of exiting ([service] wait; the installed service does)",
    )
    add_component_flags(p)
    p.add_argument("--quiet", action="store_true", help="warnings and errors only; no summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.config is None and not args.model:
        raise UsageError("run: --model is required (a .tflite file), or --config FILE")
    config: AppConfig = config_from_args(args, files=False)
    if not config.service.wait:
        check_config_files(config, args.config)  # a missing file is an error now
    checkpoint()
    if not (args.log_level or args.debug or args.quiet):
        setup_logging(config.logging.level)

    # a stop (SIGTERM, SIGINT) during start-up raises Interrupted: build_run
    # closes what it opened, cli.main exits 0 (SIGTERM) or 130 (SIGINT)
    def build() -> Run:
        return build_run(
            config, insecure_no_auth=args.insecure_no_auth, motion_debug=args.motion_debug
        )

    if config.service.wait:
        with _notifier(config) as notifier:
            waiter = StartupWait(
                config, notifier, os.environ, insecure_no_auth=args.insecure_no_auth
            )
            r = start_when_ready(
                build,
                check_files=lambda: check_config_files(config, args.config),
                missing=lambda: missing_model(config),
                probe_source=lambda: probe_source(config),
                waiter=waiter,
            )
    else:
        r = build()
    try:
        checkpoint()  # a stop lost inside build_run (an extension's init) ends the start-up
        _hand_stops_to(r.pipeline)  # from here a signal asks the pipeline to finish: exit 0
        if r.http is not None:
            r.http.start()
        run_pipeline(r.pipeline, config)
    except Interrupted:
        _discard(r)
        raise
    finally:
        if r.http is not None:
            r.http.close()
    if not args.quiet:
        print(summary_text(r.stats.snapshot()), file=sys.stderr)
    return 0


def run_pipeline(pipeline: Pipeline, config: AppConfig | None = None) -> PipelineStats:
    """Run with signal handling, the systemd protocol and periodic status logs.

    READY=1 after the first frame through the pipeline; WATCHDOG=1 only while
    frames keep flowing through the inference stage, inferred or deliberately
    skipped by the motion gate (a still scene is healthy; a stalled camera or
    a hung interpreter is not); STATUS= with FPS and drops; STOPPING=1
    when shutting down. Outside systemd (no NOTIFY_SOCKET) these are no-ops.
    Signals: the CLI's handlers, installed at its first instant, are handed
    to the pipeline; a caller without them gets handlers for the run only.
    """
    stats = pipeline.stats
    service = config.service if config is not None else None
    notifier = _notifier(config)
    watchdog = Watchdog(
        notifier,
        progress=lambda: stats.frames_through,
        interval_s=None if service is None or service.watchdog else 1e9,
        status=lambda: status_line(stats.snapshot()),
    )
    reporter = StatusReporter(stats, config.logging.status_interval_s if config else 0.0)
    stopping_sent = False

    def tick() -> None:
        nonlocal stopping_sent
        now = time.monotonic()
        if stats.frames_through and not watchdog.is_ready:
            watchdog.first_frame()
        if pipeline.stopping and not stopping_sent:
            stopping_sent = True
            notifier.stopping()
        watchdog.tick(now)
        reporter.tick(now)

    restore = None
    if _hand_stops_to(pipeline):
        enable_crash_tracebacks()
    elif _main_thread():  # a caller without the CLI's handlers
        restore = install_signal_handlers(pipeline.stop)
    try:
        return pipeline.run(tick=tick)
    finally:
        if not stopping_sent:
            notifier.stopping()
        notifier.close()
        if restore is not None:
            restore()


def _notifier(config: AppConfig | None) -> Notifier:
    if config is None or config.service.notify:
        return Notifier.from_env()
    return Notifier(None)


def _hand_stops_to(pipeline: Pipeline) -> bool:
    """The CLI's signal handlers (installed at its start) now stop ``pipeline``;
    False when there are none."""
    signals = installed_stop_signals()
    if signals is None:
        return False
    signals.hand_over(lambda: pipeline.stop(f"{signals.signal_name} received"))
    return True


def _discard(r: Run) -> None:
    """Close what a run built when it is abandoned before its pipeline ran
    (the pipeline closes its sinks and source itself once it runs)."""
    for close in [s.close for s in r.sinks] + [r.pipeline.source.stop]:
        try:
            close()
        except Exception as e:  # the stop request is what to report
            log.debug("closing after the stop request: %r", e)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
