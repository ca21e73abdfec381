"""``camera-app doctor [--config FILE] [--json]``: check this install.

One line per check, ``OK``, ``WARN`` or ``FAIL`` with the reason: Python and
OS, the TFLite runtime, the camera, the config (as ``check-config``), the
model, output folders, the MQTT broker, the web port, the systemd service.
Without ``--config`` it reads /etc/camera-app/camera-app.toml when present.
Exit status 0 when nothing FAILs (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from camera_app.commands.args import number, print_json
from camera_app.doctor import config_path, exit_code, run_checks


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the camera, runtime, model, config, disk, broker and service",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="a camera-app.toml file (default: /etc/camera-app/camera-app.toml if present)",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument(
        "--timeout",
        type=number(float, 0.1, 60.0),
        default=5.0,
        metavar="S",
        help="time allowed to the broker, web and systemd probes, seconds (default 5)",
    )
    p.set_defaults(handler=run, default_log_level="error")


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    checks = run_checks(path, timeout_s=args.timeout)
    code = exit_code(checks)
    if args.json:
        print_json({"ok": code == 0, "config": path, "checks": [c.to_json() for c in checks]})
        return code
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.level:<4}  {c.name:<{width}}  {c.message}")
    return code
