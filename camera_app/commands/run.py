"""``camera-app run``: the pipeline from a source to sinks until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from camera_app.cli import add_model_args
from camera_app.commands.common import model_options
from camera_app.errors import UsageError
from camera_app.inference.model import Model
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.sinks.base import Sink
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordSink
from camera_app.sources import SourceOptions, open_source
from camera_app.stats import summary_text

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


class _Signals:
    """SIGINT/SIGTERM ask the pipeline to stop; a second one exits at once."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            raise SystemExit(128 + signum)
        self.pipeline.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    _check(args)
    model = Model(model_options(args))
    source_spec = args.source or DEFAULT_SOURCE
    source = open_source(
        source_spec,
        SourceOptions(
            mode=None
            if args.every_frame is None
            else ("every-frame" if args.every_frame else "realtime"),
            loop=args.loop,
            lores_size_wh=_lores_size(model),
        ),
    )
    sinks = build_sinks(args)
    pipeline = Pipeline(
        source,
        model,
        sinks,
        PipelineOptions(
            every_frame=args.every_frame, max_frames=args.max_frames, duration_s=args.duration
        ),
    )
    with _Signals(pipeline):
        stats = pipeline.run()
    if not args.quiet:
        print(summary_text(stats.snapshot()), file=sys.stderr)
    return 0
