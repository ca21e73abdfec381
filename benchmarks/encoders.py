#!/usr/bin/env python3
"""CPU per frame of each recording format, at 720p and 1080p.

    .venv/bin/python benchmarks/encoders.py                  # table, 60 frames, 3 runs
    .venv/bin/python benchmarks/encoders.py --frames 120 --sizes 1920x1080 --json

Frames of the fixture clip ``one-by-one-person-detection.mp4`` (768x432,
upscaled with ``cv2.resize`` ahead, untimed) are recorded to a file in a
temporary folder, from opening the file to closing it. The figure is the
process CPU time (``time.process_time``: every thread, the encoder's too)
per frame, median of ``--runs`` runs; wall time and file size per frame are
printed beside it, and CPU as a ratio to OpenCV's ``mp4v`` (what
``RecordSink`` wrote to ``.mp4`` before issue 13). ``h264_v4l2m2m`` appears only
where it opens (a Pi 4). Fixtures: ``$CAMERA_APP_FIXTURES`` or
``../shared/fixtures``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from camera_app.recording.encoder import EncoderOptions, hardware_h264_opens  # noqa: E402
from camera_app.recording.recorder import SegmentedRecorder  # noqa: E402

Writer = Callable[[Path, list[np.ndarray]], Path]


def recorder(suffix: str, **options: object) -> Writer:
    """Our recorder: ``SegmentedRecorder.to_file`` with these encoder options."""

    def run(directory: Path, frames: list[np.ndarray]) -> Path:
        rec = SegmentedRecorder.to_file(
            directory / f"r{suffix}",
            options=EncoderOptions(fps=30, **options),  # type: ignore[arg-type]
        )
        rec.open()
        path = rec.path
        for i, frame in enumerate(frames):
            rec.write(frame, round(i * 1e9 / 30))
        rec.close()
        assert path is not None and rec.state().ok
        return path

    return run


def pyav_bgr(directory: Path, frames: list[np.ndarray]) -> Path:
    """libx264 ultrafast fed BGR frames: FFmpeg's swscale converts (the naive PyAV way)."""
    path = directory / "naive.mp4"
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def opencv(fourcc: str, suffix: str, raw_jpeg: bool = False) -> Writer:
    """cv2.VideoWriter as RecordSink used it before issue 13."""

    def run(directory: Path, frames: list[np.ndarray]) -> Path:
        path = directory / f"cv{suffix}"
        h, w = frames[0].shape[:2]
        code = cv2.VideoWriter.fourcc(*fourcc)
        if raw_jpeg:
            writer = cv2.VideoWriter(
                str(path), cv2.CAP_FFMPEG, code, 30.0, (w, h), [cv2.VIDEOWRITER_PROP_RAW_VIDEO, 1]
            )
            for image in frames:
                _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
                writer.write(np.reshape(jpeg, (1, -1)))
        else:
            writer = cv2.VideoWriter(str(path), code, 30.0, (w, h))
            for image in frames:
                writer.write(image)
        writer.release()
        return path

    return run


def formats(size_wh: tuple[int, int]) -> dict[str, Writer]:
    table: dict[str, Writer] = {
        "cv2 mp4v .mp4 (before issue 13)": opencv("mp4v", ".mp4"),
        "cv2 raw MJPEG .mkv (before issue 13)": opencv("MJPG", ".mkv", raw_jpeg=True),
        "mjpeg .mkv": recorder(".mkv"),
        "mjpeg .avi": recorder(".avi"),
        "h264 ultrafast .mp4 (default)": recorder(".mp4", codec="libx264"),
        "h264 ultrafast threads=1": recorder(".mp4", codec="libx264", threads=1),
        "h264 ultrafast, no tune": recorder(".mp4", codec="libx264", tune=""),
        "h264 superfast": recorder(".mp4", codec="libx264", preset="superfast"),
        "h264 veryfast": recorder(".mp4", codec="libx264", preset="veryfast"),
        "h264 ultrafast, FFmpeg BGR->YUV": pyav_bgr,
    }
    if hardware_h264_opens(size_wh, 30.0):
        table["h264_v4l2m2m (hardware)"] = recorder(".mp4", codec="h264_v4l2m2m")
    return table


def measure(write: Writer, frames: list[np.ndarray], runs: int) -> dict[str, float]:
    cpu, wall, size = [], [], 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-enc-") as tmp:
            c0, w0 = time.process_time(), time.perf_counter()
            path = write(Path(tmp), frames)
            cpu.append((time.process_time() - c0) * 1000 / len(frames))
            wall.append((time.perf_counter() - w0) * 1000 / len(frames))
            size = path.stat().st_size
    return {
        "cpu_ms": statistics.median(cpu),
        "wall_ms": statistics.median(wall),
        "kb_per_frame": size / 1000 / len(frames),
    }


def load_frames(n: int) -> list[np.ndarray]:
    fixtures = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
    clip = fixtures / "videos" / "one-by-one-person-detection.mp4"
    cap = cv2.VideoCapture(str(clip))
    frames: list[np.ndarray] = []
    while len(frames) < n and (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    if not frames:
        sys.exit(f"encoders.py: cannot read {clip}; set CAMERA_APP_FIXTURES")
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    clip = load_frames(args.frames)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for w, h in sizes:
        frames = [cv2.resize(f, (w, h)) for f in clip]
        for name, write in formats((w, h)).items():
            results.setdefault(name, {})[f"{w}x{h}"] = measure(write, frames, args.runs)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{args.frames} frames, median of {args.runs} runs, load average {os.getloadavg()[0]:.2f}"
    )
    header = "| format |" + "".join(
        f" {w}x{h} CPU ms/frame | x mp4v | wall ms | kB/frame |" for w, h in sizes
    )
    print(header)
    print("|---|" + "---:|---:|---:|---:|" * len(sizes))
    base = results["cv2 mp4v .mp4 (before issue 13)"]
    for name, by_size in results.items():
        cells = ""
        for w, h in sizes:
            r, b = by_size[f"{w}x{h}"], base[f"{w}x{h}"]
            cells += f" {r['cpu_ms']:.1f} | {r['cpu_ms'] / b['cpu_ms']:.2f} | {r['wall_ms']:.1f} | {r['kb_per_frame']:.1f} |"
        print(f"| {name} |{cells}")


if __name__ == "__main__":
    main()
