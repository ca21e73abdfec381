"""Command line: ``camera-app run|detect|inspect|bench|convert|check-config``.

Errors a user can cause print one line (``camera-app: error: ...``) and exit
non-zero (2 for bad arguments or configuration); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from camera_app import __version__
from camera_app.errors import CameraAppError, UsageError

log = logging.getLogger("camera_app")

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _number(
    kind: type[int] | type[float],
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> Callable[[str], Any]:
    """An argparse ``type=``: parse ``kind`` and check the bounds, with a
    message that says what was expected."""
    what = "a whole number" if kind is int else "a number"
    if low is not None and high is not None:
        bounds = f"{what} from {low:g} to {high:g}"
    elif low is not None:
        bounds = f"{what} {'>' if low_open else '>='} {low:g}"
    else:
        bounds = what

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        too_low = low is not None and (v <= low if low_open else v < low)
        if too_low or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"expected {bounds}, got {v}")
        return v

    return parse


_positive_int = _number(int, 1)
_unit_float = _number(float, 0.0, 1.0)
_positive_float = _number(float, 0.0, low_open=True)


def add_model_args(p: argparse.ArgumentParser, model_positional: bool) -> None:
    if model_positional:
        p.add_argument("model", help="a .tflite model file")
    else:
        p.add_argument("--model", help="a .tflite model file")
    p.add_argument(
        "--labels",
        help="labels file (plain, 'id name' or 'id: name'); default: the model's metadata",
    )
    p.add_argument(
        "--label-offset",
        type=int,
        default=None,
        metavar="N",
        help="label line of class 0 (default: detected; 1 for files starting with ??? or background)",
    )
    p.add_argument(
        "--family",
        default=None,
        help="model family, overriding detection "
        "(ssd, blazeface, yolov5, yolov8, yolo_e2e, classification, movenet, segmentation)",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="inference threads (default: all cores)",
    )
    p.add_argument(
        "--threshold",
        type=_unit_float,
        default=None,
        metavar="F",
        help="minimum detection score (default 0.5)",
    )
    p.add_argument(
        "--delegate",
        action="append",
        default=[],
        metavar="SPEC",
        help="edgetpu[:usb|:pci|:usb:0] or /path/to/delegate.so[;key=value...]",
    )


def build_parser() -> argparse.ArgumentParser:
    from camera_app.commands import detect, inspect, run

    parser = _Parser(prog="camera-app", description="Real-time camera vision for the Raspberry Pi.")
    parser.add_argument("--version", action="version", version=f"camera-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (run, detect, inspect):
        module.register(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: Any) -> None:
    """Commands whose modules may be absent from a trimmed install."""
    import importlib

    for name in ("bench", "convert", "check_config"):
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
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        handler: Handler = args.handler
        return handler(args)
    except CameraAppError as e:
        if debug:
            raise
        print(f"camera-app: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
