"""``camera-app convert SAVED_MODEL_DIR OUT.tflite``: quantise for the Pi.

TensorFlow is an optional extra (``pip install '.[convert]'``) imported only
when a conversion runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from camera_app.commands.args import positive_int as _positive_int
from camera_app.commands.args import print_json
from camera_app.convert.options import IO_DTYPES, QUANTIZE_MODES, ConvertOptions, Normalisation

NORMALISATIONS = Normalisation.PRESETS


def register(sub: Any) -> None:
    p = sub.add_parser(
        "convert", help="convert a TensorFlow SavedModel to .tflite (needs .[convert])"
    )
    p.add_argument("saved_model", metavar="SAVED_MODEL_DIR")
    p.add_argument("out", metavar="OUT.tflite")
    p.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default="none",
        help="none, float16, dynamic (int8 weights) or int8 (full integer, needs --calibration)",
    )
    p.add_argument(
        "--io-dtype",
        choices=IO_DTYPES,
        default="float32",
        help="input/output type of an int8 model (uint8 feeds camera pixels as they are)",
    )
    p.add_argument(
        "--calibration",
        metavar="SOURCE",
        help="representative frames: a video, an image folder or glob, a camera",
    )
    p.add_argument("--calibration-frames", type=_positive_int, default=100, metavar="N")
    p.add_argument(
        "--normalisation",
        choices=NORMALISATIONS,
        default="unit",
        help="what the SavedModel expects: unit [0,1] (default), symmetric [-1,1], "
        "imagenet mean/std, raw 0..255",
    )
    p.add_argument(
        "--allow-select-tf-ops",
        action="store_true",
        help="allow TensorFlow (Flex) ops; the Pi's LiteRT cannot run them without the Flex delegate",
    )
    p.add_argument("--labels", metavar="FILE", help="embed labels as metadata")
    p.add_argument(
        "--threads", type=_positive_int, default=1, metavar="N", help="threads for the timing run"
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from camera_app.convert import convert

    options = ConvertOptions(
        quantize=args.quantize,
        io_dtype=args.io_dtype,
        calibration=args.calibration,
        calibration_frames=args.calibration_frames,
        allow_select_tf_ops=args.allow_select_tf_ops,
        labels=args.labels,
        num_threads=args.threads,
        normalisation=Normalisation.preset(args.normalisation),
    )
    report = convert(args.saved_model, args.out, options)
    if args.json:
        print_json(report.to_json())
    else:
        print(report.to_text())
    return 0
