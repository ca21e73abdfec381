"""Drawing results: boxes where the detections are, scaled copies, the HUD."""

from __future__ import annotations

import time

import numpy as np
import pytest

from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.sinks.overlay import Annotator, color_of
from camera_app.stats import PipelineStats, StatsSnapshot


def _result(
    size_wh: tuple[int, int] = (640, 360), box: tuple[float, ...] = (100, 80, 300, 240)
) -> FrameResult:
    w, h = size_wh
    frame = Frame(
        np.zeros((h, w, 3), np.uint8), 0, time.monotonic_ns(), SourceInfo("t", "test", size_wh)
    )
    det = Detections(np.array([box], np.float32), np.array([0.9]), np.array([3]))
    return FrameResult(frame, "ssd", det, done_ns=time.monotonic_ns())


def _has_color_near(
    img: np.ndarray, x: int, y: int, color: tuple[int, int, int], r: int = 3
) -> bool:
    patch = img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
    return bool((patch == np.array(color, np.uint8)).all(axis=1).any())


@pytest.mark.parametrize(("max_width", "scale"), [(None, 1.0), (320, 0.5), (1280, 1.0)])
def test_box_drawn_where_the_detection_is(max_width: int | None, scale: float) -> None:
    result = _result()
    img = Annotator(hud=False, max_width=max_width).annotate(result)
    assert img.shape == (round(360 * scale), round(640 * scale), 3)
    color = color_of(3)
    x2, y2 = round(300 * scale), round(240 * scale)
    assert _has_color_near(img, x2, y2, color)  # bottom-right corner of the box
    assert not _has_color_near(img, round(500 * scale), round(330 * scale), color)
    assert not result.frame.image.any()  # the shared frame was not drawn on


def test_annotate_draws_each_result_once_and_hud_refreshes_at_most_twice_a_second() -> None:
    calls = 0

    class CountingStats(PipelineStats):
        def snapshot(self) -> StatsSnapshot:
            nonlocal calls
            calls += 1
            return super().snapshot()

    ann = Annotator(hud=True, hud_refresh_s=60.0)
    ann.stats = CountingStats()
    r1, r2 = _result(), _result()
    a = ann.annotate(r1)
    assert ann.annotate(r1) is a  # a second sink gets the same picture
    ann.annotate(r2)
    assert calls == 1


def test_a_new_result_is_drawn_even_where_a_freed_one_lived() -> None:
    """A freed result's id() is often the next one's: the cache must not match it."""
    info = SourceInfo("t", "test", (32, 24))
    annotator = Annotator(hud=False)
    means = []
    result = None
    for i in range(6):
        frame = Frame(np.full((24, 32, 3), i * 40, np.uint8), i, 0, info)
        result = None  # every sink is done with the previous one (when keyed by id,
        result = FrameResult(frame, "ssd", Detections.empty())  # this one got its id)
        means.append(int(annotator.annotate(result).mean()))
    assert means == [i * 40 for i in range(6)]


def test_annotated_images_are_reused_only_when_released() -> None:
    info = SourceInfo("t", "test", (32, 24))
    annotator = Annotator(hud=False)

    def result(i: int) -> FrameResult:
        image = np.full((24, 32, 3), i, np.uint8)
        return FrameResult(Frame(image, i, 0, info), "ssd", Detections.empty())

    kept = annotator.annotate(result(1))  # a sink still encoding it
    for i in range(2, 8):
        annotator.annotate(result(i))
    assert int(kept.mean()) == 1
    assert annotator._pool.allocations <= 3
