"""``camera-app models list|pull``: the model catalogue.

``models list [--json]`` shows the catalogue; ``models pull NAME [--dest DIR]``
downloads one model and its labels (progress bar on a terminal), checks
their sha256, writes them atomically and prints the ``[model]`` lines to put
in the config. ``--catalogue FILE`` (or ``$CAMERA_APP_CATALOGUE``) replaces
the built-in catalogue with a JSON file shaped like ``list --json``.

Exit codes: 0 done (or already there), 1 the download failed (offline,
HTTP error, checksum mismatch, cut short, disk full), 2 nothing was
fetched because the input is wrong: an unknown NAME, a bad catalogue file,
a different file in the way (``--force`` replaces it), a destination that
cannot be created or written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from camera_app.catalogue import CATALOGUE_ENV, Entry, find, load_catalogue
from camera_app.catalogue.download import DEFAULT_TIMEOUT_S, Progress
from camera_app.catalogue.pull import model_section, pull
from camera_app.commands.args import number, print_json

DEFAULT_DEST = "models"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "models",
        help="list well-known models and download them",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    lp = msub.add_parser("list", help="show the catalogue")
    lp.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    _catalogue_arg(lp)
    lp.set_defaults(handler=run_list, default_log_level="warning")

    pp = msub.add_parser("pull", help="download a model and its labels, verified")
    pp.add_argument("name", metavar="NAME", help="a name from `camera-app models list`")
    pp.add_argument(
        "--dest",
        default=DEFAULT_DEST,
        metavar="DIR",
        help=f"folder to write to, created if needed (default: ./{DEFAULT_DEST})",
    )
    pp.add_argument(
        "--force", action="store_true", help="replace files that exist with another sha256"
    )
    pp.add_argument(
        "--timeout",
        type=number(float, 0.1, 3600.0),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"network timeout per connect or read, seconds (default {DEFAULT_TIMEOUT_S:g})",
    )
    _catalogue_arg(pp)
    pp.set_defaults(handler=run_pull, default_log_level="warning")


def _catalogue_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--catalogue",
        metavar="FILE",
        default=None,
        help=f"a JSON catalogue replacing the built-in one (default: ${CATALOGUE_ENV} if set)",
    )


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} kB"
    return f"{n / (1024 * 1024):.1f} MB"


def _table(entries: list[Entry]) -> str:
    rows = [("NAME", "FAMILY", "TASK", "INPUT", "SIZE", "LABELS", "CHECKSUM", "LICENCE")]
    for e in entries:
        labels = e.labels.builtin if e.labels.builtin is not None else (e.labels.file or "")
        rows.append(
            (
                e.name,
                e.family,
                e.task,
                "x".join(map(str, e.input_size_wh)),
                human_size(e.size_bytes),
                labels if len(labels) <= 24 else labels[:23] + "…",
                e.verified,
                e.licence,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    )


def run_list(args: argparse.Namespace) -> int:
    entries, source = load_catalogue(args.catalogue)
    if args.json:
        print_json({"models": [e.to_json() for e in entries]})
        return 0
    print(_table(entries))
    print(f"\n{len(entries)} models ({source} catalogue); details: camera-app models list --json")
    print("download one: camera-app models pull NAME [--dest DIR]")
    return 0


class ProgressBar:
    """``name  42% [########        ] 1.8/4.2 MB`` redrawn in place, at most
    every 0.1 s; only on a terminal."""

    WIDTH = 24

    def __init__(self, name: str, stream: TextIO) -> None:
        self.name = name
        self.stream = stream
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        if total:
            frac = min(1.0, done / total)
            fill = int(frac * self.WIDTH)
            bar = f"{frac * 100:3.0f}% [{'#' * fill}{' ' * (self.WIDTH - fill)}]"
            size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            bar, size = "", f"{done / 1e6:.1f} MB"
        self.stream.write(f"\r{self.name}  {bar} {size}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def run_pull(args: argparse.Namespace) -> int:
    entries, _source = load_catalogue(args.catalogue)
    entry = find(entries, args.name)
    err = sys.stderr
    bars: list[ProgressBar] = []

    def progress_for(file: str) -> Progress | None:
        if not err.isatty():
            return None
        for bar in bars:
            bar.finish()
        bars.append(ProgressBar(file, err))
        return bars[-1]

    try:
        result = pull(
            entry,
            Path(args.dest),
            force=args.force,
            timeout_s=args.timeout,
            progress_for=progress_for,
        )
    finally:
        for bar in bars:
            bar.finish()
    for path in result.present:
        print(f"{path}: already present, sha256 ok", file=err)
    for path in result.fetched:
        print(f"{path}: downloaded, sha256 ok", file=err)
    print(f"# {entry.name}: {entry.title} ({entry.licence})")
    print(model_section(result))
    return 0
