"""Motion detector: still scenes, moving squares, lighting steps, masks, inputs."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import ConfigError
from camera_app.motion import MotionConfig, MotionDetector, MotionResult
from camera_app.motion.detector import _blur3

FRAME_NS = 1_000_000_000 // 30  # 30 fps timestamps
SQUARE = 80


def textured(size_wh: tuple[int, int], seed: int = 0, lo: int = 60, hi: int = 190) -> np.ndarray:
    """A still BGR scene: smooth colour blotches plus fine texture."""
    w, h = size_wh
    rng = np.random.default_rng(seed)
    coarse = rng.integers(lo, hi, (9, 16, 3)).astype(np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.normal(0, (hi - lo) / 12, (h, w, 3)).round().astype(np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


_NOISE: dict[tuple[tuple[int, ...], float], list[np.ndarray]] = {}


def noisy(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """``img`` plus gaussian noise (one of 8 fields made once per size: fast)."""
    key = (img.shape, sigma)
    if key not in _NOISE:
        gen = np.random.default_rng(99)
        _NOISE[key] = [
            (gen.standard_normal(img.shape, np.float32) * sigma).round().astype(np.int16)
            for _ in range(8)
        ]
    noise = _NOISE[key][int(rng.integers(8))]
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def brighten(img: np.ndarray, delta: int) -> np.ndarray:
    return np.clip(img.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def square_at(i: int, start: int, xy0: tuple[int, int], step: int) -> tuple[int, int, int, int]:
    x, y = xy0[0] + step * (i - start), xy0[1]
    return (x, y, x + SQUARE, y + SQUARE)


def draw_square(img: np.ndarray, xyxy: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = xyxy
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (0, 0, 0), cv2.FILLED)


def iou(a: np.ndarray, b: tuple[int, int, int, int]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / area)


def run(det: MotionDetector, frames: list[np.ndarray], **kw: object) -> list[MotionResult]:
    return [det.detect(f, i * FRAME_NS, **kw) for i, f in enumerate(frames)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size_wh", "grey", "sigma", "contrast", "lo_hi"),
    [
        ((1280, 720), False, 4.0, True, (60, 190)),
        ((1280, 720), False, 4.0, False, (60, 190)),
        ((1920, 1080), False, 6.0, True, (60, 190)),
        ((320, 240), True, 4.0, True, (60, 190)),  # a lores Y plane
        ((640, 360), False, 4.0, True, (100, 130)),  # dim, low contrast: stretched 8x
    ],
)
def test_still_noisy_scene_has_no_motion_after_the_first_frame(
    size_wh: tuple[int, int], grey: bool, sigma: float, contrast: bool, lo_hi: tuple[int, int]
) -> None:
    rng = np.random.default_rng(1)
    scene = textured(size_wh, lo=lo_hi[0], hi=lo_hi[1])
    frames = [noisy(scene, rng, sigma) for _ in range(45)]
    if grey:
        frames = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    results = run(MotionDetector(MotionConfig(improve_contrast=contrast)), frames)
    assert results[0].recalibrated and not results[0].motion  # the background starts here
    assert not any(r.motion or r.recalibrated for r in results[1:])
    assert max(r.changed_fraction for r in results) < 0.002
    assert all(r.boxes_xyxy.shape == (0, 4) for r in results)


@pytest.mark.parametrize(
    ("size_wh", "kind", "frame_size_wh", "contrast"),
    [
        ((1280, 720), "bgr", None, False),
        ((1920, 1080), "bgr", None, False),
        ((1280, 720), "grey", None, False),
        ((1280, 720), "bgra", None, False),
        # lores: motion on a 320x180 grey plane, boxes in the 1280x720 main frame
        ((1280, 720), "lores", (1280, 720), False),
        # stretched: the darkest 4% of the scene clip to black like the square,
        # so parts of it can vanish there: found, the box less exact
        ((1280, 720), "bgr", None, True),
    ],
)
def test_moving_square_gives_a_box_around_it_in_frame_pixels(
    size_wh: tuple[int, int], kind: str, frame_size_wh: tuple[int, int] | None, contrast: bool
) -> None:
    rng = np.random.default_rng(2)
    scene = textured(size_wh)
    det = MotionDetector(MotionConfig(improve_contrast=contrast))
    scale = size_wh[1] / 120  # frame pixels per motion-frame pixel
    for i in range(40):
        frame = noisy(scene, rng, 4)
        xyxy = square_at(i, 10, (100, size_wh[1] // 2), 12)
        if i >= 10:
            draw_square(frame, xyxy)
        image: np.ndarray = frame
        if kind == "grey":
            image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        elif kind == "bgra":
            image = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        elif kind == "lores":
            image = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (320, 180))
        r = det.detect(image, i * FRAME_NS, frame_size_wh=frame_size_wh)
        if i < 10:
            assert not r.motion
            continue
        assert r.motion and not r.recalibrated, i
        best = max(r.boxes_xyxy, key=lambda b: iou(b, xyxy))
        if contrast:
            assert iou(best, xyxy) > 0.3, (i, best, xyxy)
            continue
        # around the square: holds it (within a motion pixel), at most 3 motion
        # pixels wider; behind it, a trail at most a square long (where it
        # stood for several frames, it faded into the background a little)
        inner = np.array(xyxy, np.float32) + np.array([1, 1, -1, -1]) * scale
        outer = np.array(xyxy, np.float32) + np.array([-3, -3, 3, 3]) * scale
        outer[0] -= SQUARE
        assert (best[:2] <= inner[:2]).all() and (best[2:] >= inner[2:]).all(), (i, best)
        assert (best[:2] >= outer[:2]).all() and (best[2:] <= outer[2:]).all(), (i, best)


@pytest.mark.parametrize(
    ("change", "contrast"),
    [
        ("step+60", True),
        ("step+60", False),
        ("step-60", True),
        ("ramp+80", True),
        ("ramp+80", False),
    ],
)
def test_whole_frame_brightness_change_recalibrates_without_motion(
    change: str, contrast: bool
) -> None:
    """Lights on (a step at frame 30) or auto-exposure (+20 a frame over
    frames 30-33): no frame reports motion; the changed frames recalibrate,
    and a square moving afterwards is still found."""
    rng = np.random.default_rng(3)
    scene = textured((1280, 720))
    det = MotionDetector(MotionConfig(improve_contrast=contrast))
    results = []
    for i in range(100):
        frame = noisy(scene, rng, 4)
        if change == "step+60" and i >= 30:
            frame = brighten(frame, 60)
        elif change == "step-60" and i >= 30:
            frame = brighten(frame, -60)
        elif change == "ramp+80":
            k = min(max(i - 29, 0), 4)
            frame = brighten(frame, 20 * k)
        if i >= 70:
            draw_square(frame, square_at(i, 70, (200, 300), 12))
        results.append(det.detect(frame, i * FRAME_NS))
    assert not any(r.motion for r in results[:70])
    recal = [i for i, r in enumerate(results) if r.recalibrated]
    assert recal[0] == 0 and len(recal) >= 2 and all(30 <= i <= 33 for i in recal[1:])
    assert det.recalibrations == len(recal) - 1
    assert all(r.motion for r in results[71:])


@pytest.mark.parametrize("contrast", [True, False])
def test_partial_lighting_change_is_motion_that_fades_within_the_background_time(
    contrast: bool,
) -> None:
    """A lamp brightens 60% of the frame (+60): that is motion, below the
    lightning threshold, until the background takes it in: within about
    ``background_s * ln(60 / threshold)`` = 0.7 s, 2 s at most (60 frames)."""
    rng = np.random.default_rng(4)
    scene = textured((1280, 720))
    det = MotionDetector(MotionConfig(improve_contrast=contrast))
    motion = []
    for i in range(150):
        frame = noisy(scene, rng, 4)
        if i >= 30:
            frame[:, :768] = brighten(frame[:, :768], 60)
        motion.append(det.detect(frame, i * FRAME_NS).motion)
    assert motion[30] and not any(motion[:30])
    last = max(i for i, m in enumerate(motion) if m)
    assert last < 30 + 60
    assert not any(motion[last + 1 :])


def _square_frames(size_wh: tuple[int, int], n: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    scene = textured(size_wh)
    frames = []
    for i in range(n):
        frame = noisy(scene, rng, 4)
        if i >= 5:
            draw_square(frame, square_at(i, 5, (400, 300), 10))
        frames.append(frame)
    return frames


ALL, NONE = range(6, 30), range(0)


@pytest.mark.parametrize(
    ("mask", "still", "moving"),
    [
        ((), NONE, ALL),
        # relative: the square's whole path (x 400-720, y 300-380 of 1280x720)
        ((((0.3, 0.4), (0.6, 0.4), (0.6, 0.55), (0.3, 0.55)),), ALL, NONE),
        # the same in pixels
        ((((384, 288), (768, 288), (768, 396), (384, 396)),), ALL, NONE),
        # a triangle elsewhere (a tree at the top left)
        ((((0, 0), (300, 0), (0, 200)),), NONE, ALL),
        # x < 576 masked: hidden while inside (frames 6-14), seen once out
        ((((0.3, 0.4), (0.45, 0.4), (0.45, 0.55), (0.3, 0.55)),), range(6, 14), range(17, 30)),
    ],
)
def test_mask_suppresses_motion_inside_its_polygons(
    mask: tuple[tuple[tuple[float, float], ...], ...], still: range, moving: range
) -> None:
    results = run(MotionDetector(MotionConfig(mask=mask)), _square_frames((1280, 720)))
    assert [i for i in still if results[i].motion] == []
    assert [i for i in moving if not results[i].motion] == []
    assert all(results[i].changed_fraction == 0.0 for i in still)


def test_mask_over_the_whole_frame_means_no_motion_and_no_changed_fraction() -> None:
    everything = (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),)
    results = run(MotionDetector(MotionConfig(mask=everything)), _square_frames((640, 360)))
    assert not any(r.motion for r in results)
    assert all(r.changed_fraction == 0.0 for r in results)


def test_grey_plane_input_gives_the_bgr_results_up_to_rounding() -> None:
    """Colour is resized before its grey conversion (cheaper), so a pixel on
    the threshold may fall either way; the motion and boxes agree."""
    frames = _square_frames((1280, 720), 40)
    bgr = run(MotionDetector(MotionConfig()), frames)
    grey = run(
        MotionDetector(MotionConfig()), [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    )
    rgb = run(MotionDetector(MotionConfig()), [f[:, :, ::-1] for f in frames], channel_order="RGB")
    assert sum(r.motion for r in bgr) == 35  # frames 5-39: not an empty comparison
    for a, b, c in zip(bgr, grey, rgb, strict=True):
        assert a.motion == b.motion == c.motion
        assert abs(a.changed_fraction - b.changed_fraction) < 0.002
        np.testing.assert_array_equal(a.boxes_xyxy, c.boxes_xyxy)
        if a.motion:  # the square's box: within one motion pixel (6 frame pixels)
            ba = max(a.boxes_xyxy, key=lambda x: (x[2] - x[0]) * (x[3] - x[1]))
            bb = max(b.boxes_xyxy, key=lambda x: (x[2] - x[0]) * (x[3] - x[1]))
            assert np.abs(ba - bb).max() <= 6.1


def test_same_frames_and_timestamps_give_the_same_results() -> None:
    frames = _square_frames((640, 360))
    a = run(MotionDetector(MotionConfig()), frames)
    b = run(MotionDetector(MotionConfig()), frames)
    assert [r.motion for r in a] == [r.motion for r in b]
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.boxes_xyxy, rb.boxes_xyxy)


def test_timestamps_going_back_a_new_size_or_reset_restart_the_background() -> None:
    frames = _square_frames((640, 360))
    det = MotionDetector(MotionConfig())
    run(det, frames[:10])
    assert det.detect(frames[10], 0).recalibrated  # went back (a looped replay)
    assert not det.detect(frames[11], FRAME_NS).recalibrated
    assert det.detect(cv2.resize(frames[12], (320, 180)), 2 * FRAME_NS).recalibrated
    assert det.size_wh == (213, 120)
    det.reset()
    assert det.detect(frames[13], 3 * FRAME_NS).recalibrated


def test_keep_changed_returns_a_copy_of_the_changed_pixels() -> None:
    frames = _square_frames((1280, 720))
    det = MotionDetector(MotionConfig(), keep_changed=True)
    results = run(det, frames)
    r = results[-1]
    assert r.changed is not None and r.changed.shape == (120, 213) and r.changed.dtype == np.uint8
    assert r.changed.any() and results[-2].changed is not None
    assert not np.shares_memory(r.changed, results[-2].changed)
    assert run(MotionDetector(MotionConfig()), frames)[-1].changed is None


def test_to_motion_carries_the_fields_results_use() -> None:
    r = run(MotionDetector(MotionConfig()), _square_frames((640, 360)))[-1]
    m = r.to_motion()
    assert m.detected is True and m.boxes_xyxy is r.boxes_xyxy
    assert (m.changed_fraction, m.recalibrated) == (r.changed_fraction, False)


def test_no_frame_sized_allocations_per_frame() -> None:
    frames = _square_frames((1280, 720), 40)
    det = MotionDetector(MotionConfig(improve_contrast=True))
    run(det, frames[:10])
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for i, f in enumerate(frames[10:], start=10):
            assert det.detect(f, i * FRAME_NS).motion
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 20_000  # a 720p frame is 2.7 MB, the motion frame 25 KB


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((10, 10), np.float32), "expected a uint8 array, got float32 array"),
        ([[0, 1], [2, 3]], "expected a uint8 array, got list"),
        (np.zeros((10, 10, 2), np.uint8), r"got shape \(10, 10, 2\)"),
        (np.zeros((0, 10), np.uint8), r"got shape \(0, 10\)"),
        (np.zeros((2, 10, 10, 3), np.uint8), r"got shape \(2, 10, 10, 3\)"),
    ],
)
def test_bad_images_are_refused(image: object, match: str) -> None:
    with pytest.raises(ValueError, match="^image: .*" + match):
        MotionDetector(MotionConfig()).detect(image, 0)  # type: ignore[arg-type]


def test_bad_frame_size_is_refused() -> None:
    with pytest.raises(ValueError, match="frame_size_wh"):
        MotionDetector(MotionConfig()).detect(np.zeros((10, 10), np.uint8), 0, frame_size_wh=(0, 5))


def test_mask_polygon_outside_the_frame_is_a_config_error_naming_it() -> None:
    cfg = replace(
        MotionConfig(), mask=(((0.1, 0.1), (0.2, 0.1), (0.2, 0.2)), ((0, 0), (700, 0), (0, 10)))
    )
    det = MotionDetector(cfg)
    with pytest.raises(
        ConfigError, match=r"motion\.mask\[1\]: point \[700, 0\] is outside the 640x360 frame"
    ):
        det.detect(np.zeros((360, 640, 3), np.uint8), 0)
    # a lores plane: pixel polygons are in the main frame's pixels
    assert not det.detect(np.zeros((90, 160), np.uint8), 0, frame_size_wh=(1280, 720)).motion


def test_one_by_one_person_fixture_motion_where_people_walk(videos_dir: Path) -> None:
    """The fixture at its 10 fps. Per-frame reference (SSD MobileNet v1,
    person score >= 0.5, the README's 1044 of 1394 frames): people are
    first seen at frames 62, 229, 504, 747, 925 and 1237; nobody is seen
    in frames 0-61 and 864-924."""
    cap = cv2.VideoCapture(str(videos_dir / "one-by-one-person-detection.mp4"))
    det = MotionDetector(MotionConfig())
    motion: list[bool] = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            motion.append(det.detect(frame, len(motion) * 100_000_000).motion)
    finally:
        cap.release()
    assert len(motion) == 1394
    fraction = sum(motion) / len(motion)
    print(f"frames with motion: {sum(motion)} of {len(motion)} ({fraction:.1%}); person: 1044")
    assert 0.5 < fraction < 0.85  # measured 0.697: people who stand still are not motion
    assert not any(motion[:59])  # the empty room
    assert not any(motion[880:918])  # empty again (the last person's ghost fades by 880)
    for first_seen in (62, 229, 504, 747, 925, 1237):  # motion before the model sees them
        assert motion[first_seen - 2], first_seen
    assert det.recalibrations == 0


@pytest.mark.parametrize("size_wh", [(213, 120), (16, 16), (1, 16), (640, 360)])
def test_the_blur_is_opencvs_gaussian_blur_bit_for_bit(size_wh: tuple[int, int]) -> None:
    w, h = size_wh
    rng = np.random.default_rng(w * h)
    images = [
        rng.integers(0, 256, (h, w), np.uint8),  # every rounding case
        cv2.resize(rng.integers(0, 256, (4, 4), np.uint8), (w, h)),  # smooth
        np.full((h, w), 255, np.uint8),  # the largest sums
    ]
    sums = np.empty((h, w), np.uint16)
    for image in images:
        expected = cv2.GaussianBlur(image, (3, 3), 0)
        _blur3(image, sums)
        np.testing.assert_array_equal(image, expected)
