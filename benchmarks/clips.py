#!/usr/bin/env python3
"""CPU per frame of event clips' software path (frames encoded all the time
for pre-roll), at 720p by default, against no clips.

    .venv/bin/python benchmarks/clips.py                 # table, 150 frames, 3 runs
    .venv/bin/python benchmarks/clips.py --sizes 1920x1080 --json

Frames of ``one-by-one-person-detection.mp4`` (768x432) upscaled ahead.

* ``sink``: the clips sink alone (``handle`` on every frame): convert,
  encode (libx264 ultrafast, crf 28, a key frame a second), ring; with ``+
  clip`` an event is open the whole time, so every packet is also muxed and
  written to a clip file. Process CPU (every thread) per frame.
* ``pipeline``: ``Pipeline`` every frame over an H.264 file of those frames
  (decode, SSD MobileNet v1 on 1 thread, the sinks), with no sink and with
  the clips sink: CPU per frame, and the ratio.

Median of ``--runs``; the load average is printed (the figures are CPU
time, which a busy machine inflates less than wall time, but still some).
Fixtures: ``$CAMERA_APP_FIXTURES`` or ``../shared/fixtures``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from camera_app.clips.packets import PacketBus  # noqa: E402
from camera_app.clips.planner import ClipPlanner  # noqa: E402
from camera_app.events import ObjectEvent  # noqa: E402
from camera_app.frames import Frame, SourceInfo  # noqa: E402
from camera_app.inference.model import load_model  # noqa: E402
from camera_app.pipeline import Pipeline, PipelineOptions  # noqa: E402
from camera_app.results import Detections, FrameResult  # noqa: E402
from camera_app.sinks.clips import ClipsConfig, ClipsSink  # noqa: E402
from camera_app.sources import SourceOptions, open_source  # noqa: E402
from camera_app.stats import PipelineStats  # noqa: E402

FIXTURES = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))


def load_frames(n: int, size_wh: tuple[int, int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(FIXTURES / "videos" / "one-by-one-person-detection.mp4"))
    frames: list[np.ndarray] = []
    while len(frames) < n and (got := cap.read())[0]:
        frames.append(cv2.resize(got[1], size_wh))
    cap.release()
    if not frames:
        sys.exit(f"clips.py: cannot read the fixture video; set CAMERA_APP_FIXTURES ({FIXTURES})")
    return frames


def sink_run(frames: list[np.ndarray], with_clip: bool) -> tuple[float, float]:
    """CPU ms per frame of the clips sink, and kB per frame of the clip."""
    h, w = frames[0].shape[:2]
    info = SourceInfo("bench", "video", (w, h), fps=30.0, live=True)
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        config = ClipsConfig(dir=tmp, pre_capture_s=5, post_capture_s=5)
        planner = ClipPlanner(tmp, pre_capture_s=5, post_capture_s=5)
        sink = ClipsSink(config, planner, PacketBus())
        stats = PipelineStats()
        stats.source = {"pacing": "live", "fps": 30.0}
        sink.bind(stats, lambda: None)
        t0 = 1_000_000_000_000
        c0 = time.process_time()
        for i, image in enumerate(frames):
            ts = t0 + round(i * 1e9 / 30)
            if with_clip and i == 1:
                path = planner.open("e", ts / 1e9, ts / 1e9)
                sink.on_event(ObjectEvent("new", "e", "person", 1, 1, (0, 0, 1, 1), i, 0, clip=path))  # fmt: skip
            sink.handle(FrameResult(Frame(image, i, ts, info), "ssd", Detections.empty()))
        sink.close()
        cpu = (time.process_time() - c0) * 1000 / len(frames)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return cpu, size / 1000 / len(frames)


def write_video(frames: list[np.ndarray], path: Path) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast"}
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(image, format="bgr24")
            f.pts, f.time_base = i, Fraction(1, 30)
            out.mux(s.encode(f))
        out.mux(s.encode(None))


def pipeline_run(video: Path, with_clips: bool) -> float:
    model = load_model(
        str(FIXTURES / "models" / "ssd_mobilenet_v1_coco_quant.tflite"),
        labels=str(FIXTURES / "models" / "coco_labels.txt"),
        num_threads=1,
    )
    source = open_source(str(video), SourceOptions(mode="every-frame"))
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        sinks = []
        if with_clips:
            config = ClipsConfig(dir=tmp)
            sinks.append(ClipsSink(config, ClipPlanner(tmp), PacketBus()))
        pipeline = Pipeline(source, model, sinks, PipelineOptions(), PipelineStats())
        c0 = time.process_time()
        stats = pipeline.run()
        cpu = time.process_time() - c0
    return cpu * 1000 / max(1, stats.snapshot().processed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1280x720")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, float]] = {}
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        frames = load_frames(args.frames, (w, h))
        r: dict[str, float] = {}
        for label, with_clip in (("sink_encode_ms", False), ("sink_encode_clip_ms", True)):
            runs = [sink_run(frames, with_clip) for _ in range(args.runs)]
            r[label] = statistics.median(c for c, _ in runs)
            if with_clip:
                r["clip_kb_per_frame"] = statistics.median(k for _, k in runs)
        if not args.skip_pipeline:
            with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
                video = Path(tmp) / "in.mp4"
                write_video(frames, video)
                base, clips = [], []
                for _ in range(args.runs):  # alternating, so drifts in load hit both
                    base.append(pipeline_run(video, False))
                    clips.append(pipeline_run(video, True))
            r["pipeline_no_clips_ms"] = statistics.median(base)
            r["pipeline_clips_ms"] = statistics.median(clips)
            r["pipeline_ratio"] = r["pipeline_clips_ms"] / r["pipeline_no_clips_ms"]
        results[size] = r
    load_after = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load_average": [load_before, load_after], **results}, indent=2))
        return
    print(
        f"{args.frames} frames, median of {args.runs} runs, "
        f"load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} cores"
    )
    for size, r in results.items():
        print(f"{size}:")
        for k, v in r.items():
            print(f"  {k:24} {v:8.2f}")


if __name__ == "__main__":
    main()
