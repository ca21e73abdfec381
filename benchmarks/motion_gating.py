#!/usr/bin/env python3
"""Idle cost of a still scene, motion gating on against off (issue 15).

    .venv/bin/python benchmarks/motion_gating.py [--repeat 3] [--frames 600] [--keep DIR]

The clip: frame 0 of ``one-by-one-person-detection.mp4`` (the empty room)
upscaled to 1280x720, with light noise (``--noise`` sigma, fresh every
frame), ``--frames`` frames at 30 fps, written once (H.264) into a temp
folder. Each run is ``camera-app run --realtime`` on it, as its own process,
with or without ``--motion``; runs alternate (off, on, off, on...) so load
changes hit both alike. CPU time is the child's user + system time
(``resource.getrusage(RUSAGE_CHILDREN)`` around each run); "after start"
subtracts what the process had used when it logged that the pipeline was
running (imports, model load, opening the source: the same in both runs),
read from ``/proc/PID/stat``. "source" runs only the clip's reading at its
rate (the floor under both). Prints each run, the medians and the ratio
gated / ungated of the medians against the issue's 0.15.
Fixtures: ``$CAMERA_APP_FIXTURES`` or ``../shared/fixtures`` from the repo.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
MODEL = FIXTURES / "models" / "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = FIXTURES / "models" / "coco_labels.txt"
VIDEO = FIXTURES / "videos" / "one-by-one-person-detection.mp4"
ACCEPT_RATIO = 0.15
FPS = 30
RUN_TIMEOUT_S = 600.0


def write_still_clip(path: Path, frames: int, size_wh: tuple[int, int], sigma: float) -> None:
    cap = cv2.VideoCapture(str(VIDEO))
    ok, first = cap.read()
    cap.release()
    if not ok:
        sys.exit(f"motion_gating.py: error: cannot read {VIDEO} (set CAMERA_APP_FIXTURES)")
    room = cv2.resize(first, size_wh, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    rng = np.random.default_rng(0)
    noisy = np.empty_like(room)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = size_wh[0], size_wh[1], "yuv420p"
        stream.options = {"crf": "20", "preset": "ultrafast"}
        for _ in range(frames):
            rng.standard_normal(room.shape, np.float32, out=noisy)
            noisy *= sigma
            noisy += room
            image = np.clip(noisy, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a live process, from /proc (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class RunFigures:
    gated: bool
    cpu_s: float
    startup_cpu_s: float
    wall_s: float
    captured: int
    processed: int

    @property
    def after_start_s(self) -> float:
        return self.cpu_s - self.startup_cpu_s


def run_once(clip: Path, gated: bool, threads: int | None) -> RunFigures:
    cmd = [
        sys.executable, "-m", "camera_app", "run",
        "--model", str(MODEL), "--labels", str(LABELS),
        "--source", str(clip), "--realtime",
    ]  # fmt: skip
    if threads:
        cmd += ["--threads", str(threads)]
    if gated:
        cmd.append("--motion")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    killer = threading.Timer(RUN_TIMEOUT_S, proc.kill)  # bounds the reads below
    killer.start()
    startup: float | None = None
    lines: list[str] = []
    try:
        for line in proc.stderr:  # ends when the process closes stderr (exits)
            lines.append(line)
            if startup is None and "INFO: running " in line:
                startup = proc_cpu_s(proc.pid)
        rc = proc.wait(timeout=60)
    finally:
        killer.cancel()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    err = "".join(lines)
    if rc != 0:
        sys.exit(f"motion_gating.py: error: run failed ({rc}):\n{err[-2000:]}")
    m = re.search(r"frames: captured (\d+), processed (\d+)", err)
    if m is None or startup is None:
        sys.exit(
            f"motion_gating.py: error: no summary or start line in the run's log:\n{err[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return RunFigures(gated, cpu, startup, wall, int(m.group(1)), int(m.group(2)))


SOURCE_ONLY = """
import sys
from camera_app.sources import SourceOptions, open_source
source = open_source(sys.argv[1], SourceOptions(mode="realtime"))
source.start()
while source.read(5.0) is not None:
    pass
source.stop()
"""


def source_only_cpu_s(clip: Path) -> float:
    """CPU of reading the clip at its own rate and nothing else (Python and
    the imports included): the floor under both runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", SOURCE_ONLY, str(clip)], cwd=REPO, check=True, timeout=RUN_TIMEOUT_S
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; medians reported")
    ap.add_argument("--frames", type=int, default=600, help="clip length at 30 fps")
    ap.add_argument("--size", default="1280x720", help="clip size WxH")
    ap.add_argument("--noise", type=float, default=2.0, help="noise sigma, grey levels")
    ap.add_argument("--threads", type=int, default=None, help="inference threads (run's default)")
    ap.add_argument("--keep", type=Path, default=None, help="write the clip here and keep it")
    args = ap.parse_args()
    if not MODEL.is_file():
        sys.exit(f"motion_gating.py: error: no model {MODEL} (set CAMERA_APP_FIXTURES)")
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        clip = folder / f"still_{w}x{h}_{args.frames}.mp4"
        if not clip.exists():
            write_still_clip(clip, args.frames, (w, h), args.noise)
        print(
            f"still {w}x{h} scene, {args.frames} frames at {FPS} fps "
            f"({args.frames / FPS:.0f} s), realtime, {args.repeat} runs each, alternating; "
            f"load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{'run':<10}{'CPU s':>8}{'startup s':>11}{'after start s':>15}{'wall s':>8}"
            f"{'cores':>7}{'captured':>10}{'inferred':>10}"
        )
        runs: list[RunFigures] = []
        floor: list[float] = []
        for _ in range(args.repeat):
            for gated in (False, True):
                r = run_once(clip, gated, args.threads)
                runs.append(r)
                name = "gated" if gated else "ungated"
                print(
                    f"{name:<10}{r.cpu_s:>8.2f}{r.startup_cpu_s:>11.2f}{r.after_start_s:>15.2f}"
                    f"{r.wall_s:>8.1f}{r.cpu_s / r.wall_s:>7.2f}{r.captured:>10}{r.processed:>10}",
                    flush=True,
                )
            floor.append(source_only_cpu_s(clip))
            print(f"{'source':<10}{floor[-1]:>8.2f}  (reading the clip at its rate, nothing else)")
    off = [r for r in runs if not r.gated]
    on = [r for r in runs if r.gated]
    med = {
        (g, k): statistics.median(getattr(r, k) for r in (on if g else off))
        for g in (False, True)
        for k in ("cpu_s", "after_start_s", "startup_cpu_s")
    }
    ratio = med[True, "cpu_s"] / med[False, "cpu_s"]
    ratio_after = med[True, "after_start_s"] / med[False, "after_start_s"]
    print(
        f"\nmedian CPU s: ungated {med[False, 'cpu_s']:.2f}, gated {med[True, 'cpu_s']:.2f} "
        f"(startup {med[False, 'startup_cpu_s']:.2f} / {med[True, 'startup_cpu_s']:.2f})"
    )
    verdict = "PASS" if ratio <= ACCEPT_RATIO else "FAIL"
    print(f"process CPU gated / ungated: {ratio:.3f} (acceptance <= {ACCEPT_RATIO}) {verdict}")
    print(f"after start gated / ungated: {ratio_after:.3f}")
    print(
        f"the source alone (decode at the clip's rate, Python): {statistics.median(floor):.2f} CPU s, "
        f"{statistics.median(floor) / med[False, 'cpu_s']:.3f} of ungated"
    )


if __name__ == "__main__":
    main()
