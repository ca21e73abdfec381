"""``camera-app check-config FILE``: validate a config file without running.

Checks everything ``run --config FILE`` would check before opening the
camera: TOML syntax, unknown keys, types and bounds, and that the model,
labels and source files exist. A bad file prints one line naming the key
and exits 2; a good one prints ``FILE: ok`` and what the run would use.
"""

from __future__ import annotations

import argparse
from typing import Any

from camera_app.app import summary
from camera_app.config import load_config


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate a configuration file and exit")
    p.add_argument("file", metavar="FILE", help="a camera-app.toml file")
    p.set_defaults(handler=run, default_log_level="warning")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    print(f"{args.file}: ok")
    print(summary(config))
    return 0
