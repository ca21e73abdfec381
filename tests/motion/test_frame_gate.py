"""MotionFrameGate: the pipeline's gate (detector + InferenceGate on the capture thread)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from camera_app.frames import Frame, LumaRange, SourceInfo
from camera_app.motion import MotionConfig
from camera_app.motion.frame_gate import TIMING, MotionFrameGate
from camera_app.stats import PipelineStats

S = 1_000_000_000
INFO = SourceInfo("test", "video", (320, 240))


def frames(n: int, moving_from: int | None = None, fps: float = 30.0) -> list[Frame]:
    """A grey room with a black square moving 6 px a frame from ``moving_from``."""
    rng = np.random.default_rng(0)
    room = rng.integers(60, 190, (24, 32, 3), np.uint8).repeat(10, 0).repeat(10, 1)
    out = []
    for i in range(n):
        img = room.copy()
        if moving_from is not None and i >= moving_from:
            x = 20 + 6 * (i - moving_from)
            img[100:140, x : x + 40] = 0
        media_ms = i * 1000.0 / fps
        # capture times 10x faster than media time: which clock the gate reads shows
        out.append(Frame(img, i, 7 * S + round(media_ms * 1e5), INFO, media_ms=media_ms))
    return out


def test_still_scene_infers_the_first_frame_and_keepalives_on_media_time() -> None:
    stats = PipelineStats()
    gate = MotionFrameGate(MotionConfig(enabled=True), None, every_frame=True, stats=stats)
    out = [gate.check(f) for f in frames(301)]
    assert [i for i, d in enumerate(out) if d.infer] == [0, 150, 300]  # keep-alive: 5 s of media
    assert {d.reason for d in out if not d.infer} == {"no_motion"}
    assert all(d.motion is not None and not d.motion.detected for d in out)
    assert stats.motion is False
    timing = stats.snapshot().timing(TIMING)
    assert timing is not None and timing.count == 301 and timing.p50 is not None


def test_live_time_is_capture_time() -> None:
    gate = MotionFrameGate(MotionConfig(enabled=True), None, every_frame=False)
    out = [gate.check(f) for f in frames(1501)]
    # capture time runs 10x slower here: 5 s of it is 1500 frames
    assert [i for i, d in enumerate(out) if d.infer] == [0, 1500]


def test_motion_is_inferred_and_reported_and_the_rate_cap_applies() -> None:
    stats = PipelineStats()
    gate = MotionFrameGate(MotionConfig(enabled=True), 5.0, every_frame=True, stats=stats)
    out = [gate.check(f) for f in frames(40, moving_from=10)]
    assert not any(d.motion and d.motion.detected for d in out[:10])
    assert all(d.motion and d.motion.detected for d in out[11:])
    inferred = [i for i, d in enumerate(out) if d.infer]
    assert inferred[0] == 0 and inferred[1] in (10, 11)  # motion: at once
    assert set(np.diff(inferred[2:])) == {6}  # then 5 a second at 30 fps
    assert {d.reason for d in out[12:] if not d.infer} == {"rate"}
    assert stats.motion is True


@pytest.mark.parametrize(
    ("interval_s", "expected"), [(0.5, [0, 15, 30, 45]), (0.0, list(range(46)))]
)
def test_active_tracks_without_motion_every_tracks_interval(
    interval_s: float, expected: list[int]
) -> None:
    gate = MotionFrameGate(
        MotionConfig(enabled=True),
        None,
        every_frame=True,
        active_tracks=lambda: 1,
        tracks_interval_s=interval_s,
    )
    out = [gate.check(f) for f in frames(46)]
    assert [i for i, d in enumerate(out) if d.infer] == expected


def test_detect_rate_alone_runs_no_detector() -> None:
    stats = PipelineStats()
    gate = MotionFrameGate(MotionConfig(enabled=False), 10.0, every_frame=True, stats=stats)
    out = [gate.check(f) for f in frames(30)]
    assert gate.detector is None and all(d.motion is None for d in out)
    assert [i for i, d in enumerate(out) if d.infer] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert stats.snapshot().timing(TIMING) is None


def as_luma_frames(bgr_frames: list[Frame], luma_range: LumaRange) -> list[Frame]:
    """The same frames as a PyAV source gives them: a Y plane, and a BGR image
    that must not be converted (reading it fails the test)."""

    def never() -> np.ndarray:
        raise AssertionError("the gate converted a frame to BGR")

    out = []
    for f in bgr_frames:
        grey = cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY)
        if luma_range == "limited":  # video levels, as most H.264
            grey = np.round(grey * (219 / 255) + 16).astype(np.uint8)
        out.append(
            Frame(None, f.frame_id, f.timestamp_ns, INFO, media_ms=f.media_ms, convert=never,
                  size_wh=f.size_wh, luma=grey, luma_range=luma_range)
        )  # fmt: skip
    return out


@pytest.mark.parametrize("luma_range", ["full", "limited"])
def test_the_gate_reads_the_y_plane_and_never_converts(luma_range: LumaRange) -> None:
    bgr = frames(40, moving_from=10)
    from_bgr = MotionFrameGate(MotionConfig(enabled=True), 5.0, every_frame=True)
    expected = [from_bgr.check(f) for f in bgr]
    gate = MotionFrameGate(MotionConfig(enabled=True), 5.0, every_frame=True)
    lumas = as_luma_frames(bgr, luma_range)
    got = [gate.check(f) for f in lumas]
    assert not any(f.image_ready for f in lumas)
    assert [d.infer for d in got] == [d.infer for d in expected]
    assert [d.motion and d.motion.detected for d in got] == [
        d.motion and d.motion.detected for d in expected
    ]
    assert sum(bool(d.motion and d.motion.detected) for d in got) >= 29  # not an empty comparison
