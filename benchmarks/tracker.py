#!/usr/bin/env python3
"""Cost of the tracker per frame, on synthetic scenes (no model, no video).

    .venv/bin/python benchmarks/tracker.py [--frames 300] [--objects 5,20,50]

Times are CPU time of this process (``time.process_time``), so other load
on the machine skews them less than wall time would. Each scene has N objects moving at constant speed with box noise, plus N/2
low-score boxes and a few false positives, at 10 fps. It prints, per N, the
median over 3 runs of the ms per frame of ``Tracker.update`` (both matching
methods) and of ``TrackingProcessor.process`` (building the output columns
too), and their ratio to a baseline: the IoU matrix of the same tracks and
detections alone (the one step every IoU tracker must do).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.matching import iou_matrix
from camera_app.analysis.tracker import Tracker, TrackerParams
from camera_app.analysis.tracking import TrackerConfig, TrackingProcessor
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult

FPS = 10.0
SIZE_WH = (1280, 720)


def scene(n: int, frames: int, seed: int = 0) -> list[Detections]:
    rng = np.random.default_rng(seed)
    w, h = SIZE_WH
    wh = rng.uniform(30, 120, (n, 2))
    start = rng.uniform([0, 0], [w - 120, h - 120], (n, 2))
    vel = rng.uniform(-60, 60, (n, 2))  # pixels per second
    classes = rng.integers(0, 3, n)
    out = []
    for f in range(frames):
        t = f / FPS
        pos = (start + vel * t) % [w - 120, h - 120]
        xy = pos + rng.normal(0, 1.5, (n, 2))
        size = wh * rng.normal(1, 0.03, (n, 2))
        boxes = np.hstack([xy, xy + size])
        scores = rng.uniform(0.55, 0.95, n)
        low = rng.random(n) < 0.5  # half the objects dip to a low score
        scores[low] = rng.uniform(0.2, 0.5, int(low.sum()))
        fp = rng.uniform([0, 0], [w - 50, h - 50], (3, 2))
        boxes = np.vstack([boxes, np.hstack([fp, fp + 40])])
        scores = np.concatenate([scores, rng.uniform(0.2, 0.6, 3)])
        classes_f = np.concatenate([classes, rng.integers(0, 3, 3)])
        out.append(Detections(boxes, scores, classes_f))
    return out


def time_ms(fn: Callable[[int, Detections], object], dets: list[Detections]) -> float:
    t0 = time.process_time()  # CPU time: less skewed by other processes on a busy machine
    for i, d in enumerate(dets):
        fn(i, d)
    return (time.process_time() - t0) * 1000 / len(dets)


def run_tracker(dets: list[Detections], matching: str) -> float:
    tracker = Tracker(TrackerParams(matching=matching))  # type: ignore[arg-type]

    def step(i: int, d: Detections) -> object:
        return tracker.update(i / FPS, d.xyxy, d.confidence, d.class_id, d.confidence >= 0.5, 0.6)

    return time_ms(step, dets)


def run_processor(dets: list[Detections]) -> float:
    proc = TrackingProcessor(TrackerConfig())
    proc.bind(ProcessorContext(emit=lambda e: None, every_frame=True))
    info = SourceInfo("bench", "video", SIZE_WH, FPS)
    image = np.zeros((1, 1, 3), np.uint8)
    results = [
        FrameResult(Frame(image, i, i, info, media_ms=i * 1000 / FPS), "ssd", d)
        for i, d in enumerate(dets)
    ]

    def step(i: int, d: Detections) -> object:
        return proc.process(results[i])

    return time_ms(step, dets)


def run_baseline(dets: list[Detections], n: int) -> float:
    def step(i: int, d: Detections) -> object:
        return iou_matrix(d.xyxy[:n], d.xyxy)

    return time_ms(step, dets)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--objects", default="5,20,50")
    args = ap.parse_args()
    print(f"frames {args.frames} per run, median of 3 runs, CPU ms per frame")
    header = f"{'objects':>7} {'iou only':>9} {'optimal':>9} {'greedy':>9} {'processor':>9} {'proc/iou':>9}"
    print(header)
    for n in (int(x) for x in args.objects.split(",")):
        dets = scene(n, args.frames, seed=n)
        runs: dict[str, list[float]] = {"iou": [], "optimal": [], "greedy": [], "proc": []}
        for _ in range(3):
            runs["iou"].append(run_baseline(dets, n))
            runs["optimal"].append(run_tracker(dets, "optimal"))
            runs["greedy"].append(run_tracker(dets, "greedy"))
            runs["proc"].append(run_processor(dets))
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(
            f"{n:>7} {med['iou']:>9.3f} {med['optimal']:>9.3f} {med['greedy']:>9.3f}"
            f" {med['proc']:>9.3f} {med['proc'] / med['iou']:>8.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
