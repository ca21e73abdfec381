"""Clips for the motion gating tests, written once per session into a temp
folder, and ``run_app``: one ``camera-app run`` from a config file.

* ``empty_room_then_people``: 30 s of the empty room (frame 0 of
  ``one-by-one-person-detection.mp4`` repeated, with fresh light noise each
  frame) followed by the whole fixture video, at its 10 fps.
* ``moving_30fps``: 12 s at 30 fps, 640x360, the empty room with a dark
  square crossing it the whole time; ``still_room_30fps``: 10 s at 30 fps
  of the empty room (768x432).

Written with PyAV (libx264, yuv420p, near-lossless ``crf``), so a gated and
an ungated run read exactly the same pixels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from camera_app.app import build_run
from camera_app.commands.run import run_pipeline
from camera_app.config import load_config
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import StatsSnapshot

EMPTY_ROOM_S = 30.0
NOISE_SIGMA = 2.0
"""Light sensor noise, grey levels (the detector's threshold is 30)."""


def read_frames(video: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            yield image
    finally:
        cap.release()


def video_fps(video: Path) -> float:
    cap = cv2.VideoCapture(str(video))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> np.ndarray:
    noise = rng.normal(0.0, sigma, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: float, crf: int = 16) -> int:
    """BGR frames to an H.264 ``.mp4`` at ``fps``; returns the frame count."""
    n = 0
    with av.open(str(path), "w") as out:
        stream: av.VideoStream | None = None
        for image in frames:
            if stream is None:
                h, w = image.shape[:2]
                rate = Fraction(fps).limit_denominator(1001)
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"crf": str(crf), "preset": "ultrafast"}
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return n


def empty_room_frames(first: np.ndarray, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield noisy(first, rng)


def square_frames(room: np.ndarray, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``room`` with light noise and a dark square crossing it, back and forth,
    8 px a frame (at 640 px wide: 240 px a second at 30 fps)."""
    h, w = room.shape[:2]
    rng = np.random.default_rng(seed)
    side = h // 4
    for i in range(count):
        image = noisy(room, rng)
        x = (i * 8) % (2 * (w - side))
        x = x if x < w - side else 2 * (w - side) - x
        cv2.rectangle(image, (x, h // 2), (x + side, h // 2 + side), (30, 30, 30), -1)
        yield image


@pytest.fixture(scope="session")
def write_video() -> Callable[..., int]:
    """:func:`write_clip`, for test modules (which cannot import conftest)."""
    return write_clip


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("motion_clips")


@pytest.fixture(scope="session")
def empty_room_then_people(videos_dir: Path, clips_dir: Path) -> Path:
    """30 s of the empty room, then ``one-by-one-person-detection.mp4``."""
    video = videos_dir / "one-by-one-person-detection.mp4"
    fps = video_fps(video)
    first = next(read_frames(video))
    path = clips_dir / "empty_room_then_people.mp4"

    def frames() -> Iterator[np.ndarray]:
        yield from empty_room_frames(first, round(EMPTY_ROOM_S * fps))
        yield from read_frames(video)

    write_clip(path, frames(), fps)
    return path


@pytest.fixture(scope="session")
def moving_30fps(videos_dir: Path, clips_dir: Path) -> Path:
    """12 s at 30 fps, 640x360: the empty room with a square moving the whole time."""
    first = next(read_frames(videos_dir / "one-by-one-person-detection.mp4"))
    room = cv2.resize(first, (640, 360), interpolation=cv2.INTER_AREA)
    path = clips_dir / "moving_30fps.mp4"
    write_clip(path, square_frames(room, 360), 30.0)
    return path


@pytest.fixture(scope="session")
def still_room_30fps(videos_dir: Path, clips_dir: Path) -> Path:
    """10 s at 30 fps of the empty room (frame 0 of the fixture, fresh noise)."""
    first = next(read_frames(videos_dir / "one-by-one-person-detection.mp4"))
    path = clips_dir / "still_room_30fps.mp4"
    write_clip(path, empty_room_frames(first, 300, seed=1), 30.0)
    return path


# -- runs ----------------------------------------------------------------------
MODEL = "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = "coco_labels.txt"


@dataclass(frozen=True, slots=True)
class Seen1:
    """One result as it reached the sinks."""

    frame_id: int
    timestamp_ns: int
    media_ms: float | None
    inferred: bool
    motion: bool | None
    recalibrated: bool | None


class SeenSink(BaseSink):
    """Records every result that reaches the sinks (lossless: every-frame
    runs wait for it)."""

    name = "seen"

    def __init__(self) -> None:
        self.rows: list[Seen1] = []

    def handle(self, result: FrameResult) -> None:
        m, f = result.motion, result.frame
        self.rows.append(
            Seen1(
                f.frame_id,
                f.timestamp_ns,
                f.media_ms,
                result.inferred,
                None if m is None else m.detected,
                None if m is None else m.recalibrated,
            )
        )


@dataclass
class Replay:
    snapshot: StatsSnapshot
    events: list[dict[str, object]]
    """The ``end`` record of every event (one per event, with its start and end)."""
    seen: list[Seen1] = field(repr=False)
    folder: Path

    @property
    def inferred(self) -> int:
        return self.snapshot.processed

    @property
    def captured(self) -> int:
        return self.snapshot.captured

    def starts(self, label: str) -> list[float]:
        return sorted(float(str(e["start_media_ms"])) for e in self.events if e["label"] == label)


RunApp = Callable[..., Replay]


def run_app(
    folder: Path, models_dir: Path, source: Path, extra: str = "", mode: str = "every-frame"
) -> Replay:
    """What ``camera-app run --config FILE`` does, with ``FILE`` in ``folder``
    naming ``source``, the fixture SSD, an events log (which turns tracking
    and events on) and ``extra`` TOML; plus a :class:`SeenSink`."""
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.jsonl"
    config_path = folder / "camera-app.toml"
    config_path.write_text(
        f"""
[source]
spec = "{source}"
mode = "{mode}"

[model]
path = "{models_dir / MODEL}"
labels = "{models_dir / LABELS}"

[events]
path = "{events}"

[logging]
status_interval_s = 0
{extra}
"""
    )
    config = load_config(config_path)
    run = build_run(config)
    seen = SeenSink()
    run.pipeline.sinks.append(seen)
    run_pipeline(run.pipeline, config)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    ends = [e for e in lines if e["type"] == "end"]
    return Replay(run.stats.snapshot(), ends, seen.rows, folder)


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> RunApp:
    """``replays(source, extra="", mode="every-frame")``: :func:`run_app`,
    cached per module by its arguments (tests share the ungated baselines)."""
    cache: dict[tuple[str, str, str], Replay] = {}
    root = tmp_path_factory.mktemp("runs")

    def get(source: Path, extra: str = "", mode: str = "every-frame") -> Replay:
        key = (str(source), extra, mode)
        if key not in cache:
            cache[key] = run_app(root / f"run{len(cache)}", models_dir, source, extra, mode)
        return cache[key]

    return get
