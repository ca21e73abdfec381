"""``camera-app inspect MODEL``: what a model takes, gives and is."""

from __future__ import annotations

import argparse
from typing import Any

from camera_app.commands.args import add_model_args, print_json
from camera_app.commands.common import load
from camera_app.inference.decoders import FAMILIES


def register(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show a model's inputs, outputs, family and labels")
    add_model_args(p, model_positional=True)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=run, default_log_level="warning")


def _tensor_line(t: dict[str, Any]) -> str:
    q = f", scale {t['scale']:.6g}, zero point {t['zero_point']}" if t["scale"] else ""
    return f"  {t['name'] or '?'}: {t['shape']} {t['dtype']}{q}"


def run(args: argparse.Namespace) -> int:
    model = load(args)
    d = model.describe()
    if args.json:
        print_json(d)
        return 0
    lines = [
        f"model:    {d['model']}",
        f"runtime:  {d['runtime']} {d['runtime_version']}",
        f"family:   {d['family']} ({FAMILIES[d['family']].description})",
        "inputs:",
        *(_tensor_line(t) for t in d["inputs"]),
        "outputs:",
        *(_tensor_line(t) for t in d["outputs"]),
        f"signatures: {', '.join(d['signatures']) or 'none'}",
        f"classes:  {d['num_classes'] if d['num_classes'] is not None else 'unknown'}",
        "labels:   "
        + (
            f"{d['labels']['source']} ({d['labels']['count']} ids, offset {d['labels']['offset']})"
            if d["labels"]
            else "none (pass --labels)"
        ),
        "preprocess: {resize} to {size_wh[0]}x{size_wh[1]}, {color}, {cast}".format(
            **d["preprocess"]
        ),
    ]
    print("\n".join(lines))
    return 0
