"""Command line: ``camera-app run|detect|inspect|bench|convert|check-config``.

Errors a user can cause print one line (``camera-app: error: ...``) and exit
non-zero (2 for bad arguments or configuration); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from camera_app import __version__
from camera_app.errors import EXIT_INTERRUPTED, EXIT_USAGE, CameraAppError
from camera_app.native import detach_python_stderr

log = logging.getLogger("camera_app")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from camera_app.commands import detect, inspect, run
    from camera_app.commands.args import Parser

    parser = Parser(prog="camera-app", description="Real-time camera vision for the Raspberry Pi.")
    parser.add_argument("--version", action="version", version=f"camera-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (run, detect, inspect):
        module.register(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: Any) -> None:
    """Commands whose modules may be absent from a trimmed install."""
    import importlib

    for name in ("bench", "convert", "check_config", "models", "doctor", "mqtt_clean"):
        try:
            mod = importlib.import_module(f"camera_app.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"camera_app.commands.{name}":
                raise
            continue
        mod.register(sub)


def setup_logging(level: str) -> None:
    from camera_app.logs import setup_logging as setup

    setup(level)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        level = args.log_level or (
            "debug" if args.debug else getattr(args, "default_log_level", "info")
        )
        if getattr(args, "quiet", False) and not args.log_level and not args.debug:
            level = "warning"
        setup_logging(level)
        detach_python_stderr()  # native noise captured around native calls stays out of our logs
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        handler: Handler = args.handler
        return handler(args)
    except CameraAppError as e:
        if debug:
            raise
        print(f"camera-app: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
