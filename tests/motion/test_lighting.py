"""Lighting changes over the whole frame are not motion (issue 15).

Lights switched on or off, or the camera's auto-exposure, change every pixel
at once; the detector resets its background instead of reporting motion
("recalibrates"). On the real room of ``one-by-one-person-detection.mp4``,
whose white wall is near the top of the grey range, a brighter frame
stretched with the previous frames' contrast limits clips the wall at 255,
so less than the lightning threshold of the pixels "change": the detector
also counts pixels that all moved the same way by half the threshold.

Checked on the detector, then end to end: a clip through ``camera-app
run``'s chain (``[motion] enabled``), where a motion event (consecutive
frames with motion, as the MQTT ``motion`` topic would show with no
off-delay) must not last longer than the change itself (the time the
detector takes to recalibrate), and the change must not make the model run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.motion import MotionConfig, MotionDetector, MotionState

FPS = 30.0
BEFORE, AFTER = 60, 120
"""Frames of the room before the change starts, and from then on."""

Change = Callable[[np.ndarray, int], np.ndarray]
"""(image as float32, frames since the change started (< 0: before)) -> image."""


def step(delta: float) -> Change:
    return lambda img, k: img + delta if k >= 0 else img


def gain(factor: float) -> Change:
    return lambda img, k: img * factor if k >= 0 else img


def ramp(delta: float, frames: int) -> Change:
    """Auto-exposure: ``delta`` reached over ``frames`` frames."""
    return lambda img, k: img + delta * min(max(k + 1, 0), frames) / frames


CHANGES: dict[str, tuple[Change, int]] = {
    "lights on (+60)": (step(60), 1),
    "lights off (-60)": (step(-60), 1),
    "a softer step (+30)": (step(30), 1),
    "exposure x1.5": (gain(1.5), 1),
    "exposure x0.6": (gain(0.6), 1),
    "auto-exposure +60 over 3 frames": (ramp(60, 3), 3),
    "auto-exposure +60 over 10 frames": (ramp(60, 10), 10),
}
"""name: (change, frames it lasts)."""


def room_frames(room: np.ndarray, change: Change, seed: int = 0) -> Iterator[np.ndarray]:
    """The room with light noise (sigma 2: one of 8 fields made once, in a
    random order), changed by ``change`` from frame ``BEFORE``."""
    rng = np.random.default_rng(seed)
    base = room.astype(np.float32)
    fields = [rng.normal(0.0, 2.0, room.shape).astype(np.float32) for _ in range(8)]
    for i in range(BEFORE + AFTER):
        img = base + fields[int(rng.integers(8))]
        yield np.clip(change(img, i - BEFORE), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def room(videos_dir: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(videos_dir / "one-by-one-person-detection.mp4"))
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


def motion_events(rows: list[tuple[int, bool]]) -> list[tuple[int, int]]:
    """(first, last) timestamps of each run of frames with motion; a
    :class:`MotionState` without off-delay, as the MQTT topic reports it."""
    state = MotionState(off_delay_s=0)
    events: list[tuple[int, int]] = []
    start = last = None
    for ts, motion in rows:
        if state.update(ts, motion) is True:
            start = ts
        if motion:
            last = ts
        elif start is not None and last is not None:
            events.append((start, last))
            start = None
    if start is not None and last is not None:
        events.append((start, last))
    return events


@pytest.mark.parametrize("name", list(CHANGES))
def test_detector_recalibrates_instead_of_motion(room: np.ndarray, name: str) -> None:
    change, lasts = CHANGES[name]
    det = MotionDetector(MotionConfig(enabled=True))
    results = [
        det.detect(img, round(i * 1e9 / FPS)) for i, img in enumerate(room_frames(room, change))
    ]
    assert results[0].recalibrated
    assert not any(r.motion for r in results), [i for i, r in enumerate(results) if r.motion]
    recal = [i for i, r in enumerate(results) if r.recalibrated][1:]
    assert recal and all(BEFORE <= i < BEFORE + lasts for i in recal), recal


def test_a_partial_change_is_still_motion(room: np.ndarray) -> None:
    """The same +60 over the left half only (a lamp, a door opening) is
    motion: the second test does not swallow it."""

    def left_half(img: np.ndarray, k: int) -> np.ndarray:
        if k >= 0:
            img[:, : img.shape[1] // 2] += 60
        return img

    det = MotionDetector(MotionConfig(enabled=True))
    results = [
        det.detect(img, round(i * 1e9 / FPS)) for i, img in enumerate(room_frames(room, left_half))
    ]
    assert results[BEFORE].motion and not results[BEFORE].recalibrated
    assert not any(r.motion for r in results[:BEFORE])


@pytest.mark.fixtures
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "name", ["lights on (+60)", "lights off (-60)", "auto-exposure +60 over 10 frames"]
)
def test_lighting_change_through_the_app_is_no_motion_event(
    room: np.ndarray, clips_dir: Path, replays: Any, write_video: Any, name: str
) -> None:
    change, lasts = CHANGES[name]
    clip = clips_dir / f"lighting-{''.join(c if c.isalnum() else '-' for c in name)}.mp4"
    write_video(clip, room_frames(room, change), FPS)
    run = replays(clip, "\n[motion]\nenabled = true\n")
    assert run.captured == BEFORE + AFTER and len(run.seen) == run.captured
    rows = [(round(r.media_ms * 1e6), bool(r.motion)) for r in run.seen]
    recalibration_ns = round(lasts * 1e9 / FPS)
    events = motion_events(rows)
    assert all(last - first < recalibration_ns for first, last in events), events
    recal = [r.frame_id for r in run.seen[1:] if r.recalibrated]
    assert recal and all(BEFORE <= i < BEFORE + lasts for i in recal), recal
    # the model ran on the first frame and the keep-alive (5 s) only
    inferred = [r.frame_id for r in run.seen if r.inferred]
    assert inferred == [0, 150], inferred
    assert run.snapshot.gated == {"no_motion": run.captured - 2}
