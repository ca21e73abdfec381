"""argparse helpers shared by the commands: one-line errors, bounded numbers,
the model flags, and the flags that set config keys.

Every flag that mirrors a config key is declared once, here for the run's
own sections (:data:`CORE_FLAGS`) or in its component's module (``FLAGS``),
and :func:`camera_app.app.config_from_args` applies the ones the user gave.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from camera_app.components import COMPONENTS, Flag
from camera_app.errors import UsageError
from camera_app.inference.decoders import FAMILIES


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def number(
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


positive_int = number(int, 1)
unit_float = number(float, 0.0, 1.0)
positive_float = number(float, 0.0, low_open=True)

CORE_FLAGS: dict[str, tuple[str, str]] = {
    # argparse dest -> (config key, flag as the user types it). Flags default to
    # None (or False/[] for store_true/append) when not given; those never win.
    "source": ("source.spec", "--source"),
    "model": ("model.path", "--model"),
    "labels": ("model.labels", "--labels"),
    "label_offset": ("model.label_offset", "--label-offset"),
    "family": ("model.family", "--family"),
    "threads": ("model.threads", "--threads"),
    "delegate": ("model.delegates", "--delegate"),
    "threshold": ("detect.threshold", "--threshold"),
    "iou_threshold": ("detect.iou_threshold", "--iou-threshold"),
    "loop": ("source.loop", "--loop"),
    "max_frames": ("pipeline.max_frames", "--max-frames"),
    "duration": ("pipeline.duration_s", "--duration"),
    "overlay_width": ("overlay.max_width", "--overlay-width"),
    "log_level": ("logging.level", "--log-level"),
    "http": ("http.listen", "--http"),
    "motion": ("motion.enabled", "--motion"),
    "detect_fps": ("detect.fps", "--detect-fps"),
    "wait": ("service.wait", "--wait"),
}


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
        help=f"model family, overriding detection ({', '.join(FAMILIES)})",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="inference threads (default: all cores)",
    )
    p.add_argument(
        "--threshold",
        type=unit_float,
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


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a camera-app.toml; flags override it")


def add_component_flags(
    p: argparse.ArgumentParser, kinds: Sequence[str] = ("sink", "processor")
) -> None:
    """The flags every component declares (``--jsonl``, ``--mqtt``, ``--events``...)."""
    for c in COMPONENTS:
        if c.kind not in kinds:
            continue
        for f in c.flags:
            add_flag(p, f)


def add_flag(p: argparse.ArgumentParser, f: Flag) -> None:
    if f.store_true:
        p.add_argument(f.flag, dest=f.dest, action="store_true", default=False, help=f.help)
    else:
        p.add_argument(
            f.flag,
            dest=f.dest,
            default=None,
            metavar=f.metavar,
            choices=f.choices,
            help=f.help,
        )


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()
