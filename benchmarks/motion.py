#!/usr/bin/env python3
"""Motion detector cost per frame, and the gate on a still scene.

    .venv/bin/python benchmarks/motion.py                  # both parts
    .venv/bin/python benchmarks/motion.py --skip still     # cost only

Cost: ``MotionDetector.detect`` per frame (ms; median of ``--repeat`` runs
of ``--frames`` frames each) on frames of ``one-by-one-person-detection.mp4``
(people walking) upscaled to 1280x720 and 1920x1080 BGR, and on a 320x240
grey plane (a picamera2 lores Y plane), each against a ``cv2.resize`` of
the same frame to 300x300 (what preprocessing does for an SSD input) as the
baseline ratio.

Still: frame 0 of the clip upscaled to 1280x720 with gaussian noise
(``--noise`` sigma, fresh every frame), ``--still-frames`` frames at 30 fps
timestamps, through the detector and the gate with default settings: the
fraction of frames inferred (a keep-alive every ``keepalive_s`` only).
Fixtures: ``$CAMERA_APP_FIXTURES`` or ``../shared/fixtures`` from the repo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from camera_app.motion import InferenceGate, MotionConfig, MotionDetector  # noqa: E402

FRAME_NS = 1_000_000_000 // 30


def clip_frames(video: Path, start: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames: list[np.ndarray] = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        sys.exit(f"motion.py: error: cannot read frames from {video}")
    return frames


def mean_ms(fn: Callable[[int], object], frames: int) -> float:
    t0 = time.perf_counter()
    for i in range(frames):
        fn(i)
    return (time.perf_counter() - t0) / frames * 1e3


class Timed:
    """The two timed calls on one set of frames (cycled; 30 fps timestamps)."""

    def __init__(self, det: MotionDetector, imgs: list[np.ndarray]) -> None:
        self.det, self.imgs, self.n = det, imgs, 0
        self.out = np.empty((300, 300, *imgs[0].shape[2:]), np.uint8)
        det.detect(imgs[0], 0)  # buffers

    def detect(self, i: int) -> object:
        self.n += 1
        return self.det.detect(self.imgs[i % len(self.imgs)], self.n * FRAME_NS)

    def resize(self, i: int) -> object:
        img = self.imgs[i % len(self.imgs)]
        return cv2.resize(img, (300, 300), dst=self.out, interpolation=cv2.INTER_LINEAR)


def bench_cost(video: Path, frames: int, repeat: int) -> None:
    src = clip_frames(video, 300, 20)  # a person walking in
    print(f"motion detector cost per frame, median of {repeat} runs of {frames} frames")
    print(f"{'input':<22}{'motion frame':>14}{'detect ms':>11}{'resize ms':>11}{'ratio':>8}")
    cases: list[tuple[str, list[np.ndarray]]] = [
        ("1280x720 BGR", [cv2.resize(f, (1280, 720)) for f in src]),
        ("1920x1080 BGR", [cv2.resize(f, (1920, 1080)) for f in src]),
        (
            "320x240 grey (lores Y)",
            [cv2.cvtColor(cv2.resize(f, (320, 240)), cv2.COLOR_BGR2GRAY) for f in src],
        ),
    ]
    timed = [Timed(MotionDetector(MotionConfig()), imgs) for _, imgs in cases]
    runs: list[list[tuple[float, float]]] = [[] for _ in cases]
    for _ in range(repeat):  # interleaved: load changes hit every case alike
        for t, out in zip(timed, runs, strict=True):
            out.append((mean_ms(t.detect, frames), mean_ms(t.resize, frames)))
    for (name, _), t, out in zip(cases, timed, runs, strict=True):
        d_ms = statistics.median(d for d, _ in out)
        r_ms = statistics.median(r for _, r in out)
        w, h = t.det.size_wh or (0, 0)
        print(f"{name:<22}{f'{w}x{h}':>14}{d_ms:>11.3f}{r_ms:>11.3f}{d_ms / r_ms:>8.2f}")
    print("(ratio: detect / cv2.resize of the same frame to 300x300, INTER_LINEAR)")


def bench_still(video: Path, frames: int, sigma: float) -> None:
    base = cv2.resize(clip_frames(video, 0, 1)[0], (1280, 720)).astype(np.float32)
    rng = np.random.default_rng(0)
    cfg = MotionConfig(enabled=True)
    det, gate = MotionDetector(cfg), InferenceGate(keepalive_s=cfg.keepalive_s)
    noisy = np.empty_like(base)
    frame = np.empty(base.shape, np.uint8)
    motion = recal = 0
    detect_s = 0.0
    for i in range(frames):
        rng.standard_normal(base.shape, np.float32, out=noisy)
        noisy *= sigma
        noisy += base
        np.clip(noisy, 0, 255, out=noisy)
        np.rint(noisy, out=noisy)
        frame[...] = noisy
        t0 = time.perf_counter()
        r = det.detect(frame, i * FRAME_NS)
        gate.decide(i * FRAME_NS, motion=r.motion, active_tracks=0)
        detect_s += time.perf_counter() - t0
        motion += r.motion
        recal += r.recalibrated
    c = gate.counts
    print(
        f"\nstill 1280x720 scene (frame 0 upscaled, noise sigma {sigma:g}), {frames} frames at 30 fps, defaults:"
    )
    print(
        f"  frames with motion {motion}, recalibrated {recal} (the first frame); "
        f"gate: inferred {c.inferred} of {c.total} ({c.inferred / c.total:.2%}), "
        f"skipped_no_motion {c.skipped_no_motion}, skipped_rate {c.skipped_rate}; "
        f"detect + gate {detect_s / frames * 1e3:.3f} ms/frame"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    fixtures = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
    ap.add_argument(
        "--video", type=Path, default=fixtures / "videos" / "one-by-one-person-detection.mp4"
    )
    ap.add_argument("--frames", type=int, default=300, help="frames per timed run")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    ap.add_argument("--still-frames", type=int, default=600)
    ap.add_argument(
        "--noise", type=float, default=3.0, help="still scene noise sigma (grey levels)"
    )
    ap.add_argument("--skip", default="", help="cost,still")
    args = ap.parse_args()
    if not args.video.is_file():
        sys.exit(f"motion.py: error: no such video {args.video} (set CAMERA_APP_FIXTURES)")
    skip = set(filter(None, args.skip.split(",")))
    if "cost" not in skip:
        bench_cost(args.video, args.frames, args.repeat)
    if "still" not in skip:
        bench_still(args.video, args.still_frames, args.noise)


if __name__ == "__main__":
    main()
