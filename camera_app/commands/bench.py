"""``camera-app bench``: bare invoke vs a naive loop vs the pipeline, in one run."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from camera_app.app import config_from_args
from camera_app.app import model_options as config_model_options
from camera_app.bench import report
from camera_app.bench.analysis import tracking_config
from camera_app.bench.scenarios import MODES, BenchOptions, run_bench
from camera_app.bench.sinks import parse_sinks
from camera_app.commands.args import add_config_arg, add_model_args
from camera_app.commands.args import number as _number
from camera_app.commands.args import positive_float as _positive_float
from camera_app.commands.args import positive_int as _positive_int
from camera_app.components import tracking_wanted
from camera_app.config import AppConfig
from camera_app.errors import UsageError
from camera_app.inference.runtime import default_threads

log = logging.getLogger(__name__)


def _size_wh(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < 16 or max(size) > 8192:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1920x1080, got {text!r}")
    return size


def _skip(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    bad = sorted(names - set(MODES))
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown mode {', '.join(bad)}; expected some of {', '.join(MODES)}"
        )
    return names


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure FPS, latency, stage times, CPU and memory: bare invoke, a naive loop, "
        "the pipeline",
    )
    p.add_argument("--source", help="a video file (every mode reads the same frames)")
    add_config_arg(p)
    add_model_args(p, model_positional=False)
    p.add_argument(
        "--sinks",
        default="jsonl",
        metavar="LIST",
        help="what the naive loop and the pipeline both do, comma-separated: "
        "jsonl, overlay, record, web; or none (default jsonl)",
    )
    p.add_argument(
        "--frames",
        type=_positive_int,
        default=300,
        metavar="N",
        help="frames for bare, naive and pipeline (default 300; fewer if the clip ends)",
    )
    p.add_argument(
        "--realtime-frames",
        type=_positive_int,
        default=200,
        metavar="N",
        help="frames for the realtime mode (default 200)",
    )
    p.add_argument(
        "--realtime-fps",
        type=_positive_float,
        default=None,
        metavar="F",
        help="pace of the realtime mode (default: the file's own frame rate)",
    )
    p.add_argument(
        "--upscale",
        type=_size_wh,
        default=None,
        metavar="WxH",
        help="first resize the clip to this size (into a temporary folder)",
    )
    p.add_argument(
        "--loop-frames",
        type=_positive_int,
        default=None,
        metavar="N",
        help="also run N frames looped, every-frame, and report RSS growth after warm-up",
    )
    p.add_argument(
        "--warmup-frames",
        type=_positive_int,
        default=None,
        metavar="N",
        help="soak warm-up before the first RSS reading (default min(500, N/5))",
    )
    p.add_argument(
        "--skip",
        type=_skip,
        default=frozenset(),
        metavar="LIST",
        help=f"modes to leave out, comma-separated ({', '.join(MODES)})",
    )
    p.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run bare, naive and pipeline N times, interleaved; report medians",
    )
    p.add_argument(
        "--web-clients",
        type=_positive_int,
        default=1,
        metavar="N",
        help="viewers reading the web preview stream (with --sinks ...,web)",
    )
    p.add_argument(
        "--overlay-width",
        type=_positive_int,
        default=None,
        metavar="PX",
        help="draw and record at most this wide, in both the naive loop and the pipeline "
        "(as run's overlay.max_width; default: full size)",
    )
    p.add_argument(
        "--record-format",
        choices=("mp4", "avi", "mkv"),
        default="mp4",
        help="the record sink's file type: mp4 (H.264: the Pi 4's hardware encoder when it "
        "opens, else libx264 ultrafast) or avi/mkv (Motion JPEG by libjpeg-turbo); default mp4",
    )
    p.add_argument(
        "--worker-nice",
        type=_number(int, 0, 19),
        default=0,
        metavar="N",
        help="run the pipeline's capture and sink threads N nicer than inference "
        "(as run's pipeline.worker_nice; default 0)",
    )
    p.add_argument(
        "--queue-size",
        type=_positive_int,
        default=2,
        metavar="N",
        help="the pipeline's capture queue (default 2, as run)",
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        default=None,
        help="write the clip and the sinks' outputs here instead of a temporary folder",
    )
    p.add_argument(
        "--track",
        action="store_true",
        help="also run the analysis stages as run does with tracking on (filters, tracker, "
        "zones, lines, events; zones and lines from --config, else one of each), each timed "
        "as a stage of its own (analysis:NAME); on anyway when --config turns tracking on",
    )
    p.add_argument(
        "--motion",
        action="store_true",
        help="also run the motion detector on every frame as run --motion does ([motion] "
        "from --config), timed as the stage 'motion'; every frame is still inferred",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="draw latency and stage times (needs matplotlib: camera_app[plot])",
    )
    p.set_defaults(handler=bench)


def options_from(args: argparse.Namespace) -> BenchOptions:
    if not args.model:
        raise UsageError("bench: --model is required (a .tflite file)")
    if not args.source:
        raise UsageError("bench: --source is required (a video file)")
    source = Path(args.source)
    if not source.is_file():
        raise UsageError(f"bench: --source {source}: not a file")
    if args.keep is not None and not Path(args.keep).is_dir():
        raise UsageError(f"bench: --keep {args.keep}: not a folder")
    if set(MODES) - args.skip == set() and not args.loop_frames:
        raise UsageError("bench: --skip leaves nothing to measure")
    config = config_from_args(args, files=False)
    analysis = None
    if args.track or tracking_wanted(config):
        analysis = tracking_config(config) if args.track else config
    return BenchOptions(
        model=config_model_options(analysis or config),
        source=source,
        sinks=parse_sinks(args.sinks),
        frames=args.frames,
        realtime_frames=args.realtime_frames,
        realtime_fps=args.realtime_fps,
        upscale_wh=args.upscale,
        loop_frames=args.loop_frames,
        warmup_frames=args.warmup_frames,
        skip=args.skip,
        repeat=args.repeat,
        web_clients=args.web_clients,
        queue_size=args.queue_size,
        overlay_width=args.overlay_width,
        record_format=args.record_format,
        worker_nice=args.worker_nice,
        analysis=analysis,
        motion=config.motion if args.motion else None,
    )


def analysis_meta(config: AppConfig | None) -> dict[str, Any] | None:
    """What ``--track`` ran: zones and lines by name, the decoders' score floor."""
    if config is None:
        return None
    return {
        "zones": [z.name for z in config.section("zones")],
        "lines": [line.name for line in config.section("lines")],
        "decode_threshold": config_model_options(config).threshold,
    }


def bench(args: argparse.Namespace) -> int:
    opts = options_from(args)
    if args.plot:
        report.check_matplotlib()  # fail before minutes of measuring
    load_start = report.loadavg()
    raw = run_bench(opts, Path(args.keep) if args.keep else None)
    meta = {
        "model": str(opts.model.path),
        "threads": opts.model.num_threads or default_threads(),
        "sinks": list(opts.sinks),
        "record_format": opts.record_format if "record" in opts.sinks else None,
        "worker_nice": opts.worker_nice,
        "frames": opts.frames,
        "track": analysis_meta(opts.analysis),
        "motion": None if opts.motion is None else {"frame_height": opts.motion.frame_height},
        "load": {"start": load_start, "end": report.loadavg()},
    }
    rep = report.build(raw, meta)
    if args.plot:
        report.plot(rep, raw["results"], Path(args.plot))
        log.info("bench: plot written to %s", args.plot)
    if args.json:
        sys.stdout.write(json.dumps(rep, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(report.render_text(rep) + "\n")
    sys.stdout.flush()
    return 0
