"""Motion drawn for --motion-debug: boxes, the ignored area, changed pixels."""

from __future__ import annotations

import time

import numpy as np
import pytest

from camera_app.annotators.base import SceneAnnotator
from camera_app.frames import Frame, SourceInfo
from camera_app.motion import MotionAnnotator, MotionResult
from camera_app.results import Detections, FrameResult, Motion

RED, PURPLE, YELLOW = (0, 0, 255), (128, 0, 128), (0, 255, 255)


def _grey_scene(w: int = 640, h: int = 360) -> np.ndarray:
    return np.full((h, w, 3), 100, np.uint8)


def _result(motion: Motion | None, size_wh: tuple[int, int] = (640, 360)) -> FrameResult:
    w, h = size_wh
    frame = Frame(
        np.zeros((h, w, 3), np.uint8), 0, time.monotonic_ns(), SourceInfo("t", "test", size_wh)
    )
    return FrameResult(frame, "ssd", Detections.empty(), motion=motion)


@pytest.mark.parametrize("scale_xy", [1.0, 0.5])
def test_box_drawn_where_the_motion_is(scale_xy: float) -> None:
    box = np.array([[100, 80, 300, 240]], np.float32)
    scene = _grey_scene(round(640 * scale_xy), round(360 * scale_xy))
    ann: SceneAnnotator = MotionAnnotator()
    ann.annotate(scene, _result(Motion(True, box, 0.05)), scale_xy)
    x1, y1 = round(100 * scale_xy), round(80 * scale_xy)
    assert (scene[y1 + 20, x1] == RED).all()  # the box's left edge
    assert (scene[y1 + 20, x1 + 20] == 100).all()  # inside is not filled


def test_mask_area_is_tinted_and_changed_pixels_shown() -> None:
    mask = (((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)),)  # bottom-left quarter
    changed = np.zeros((120, 213), np.uint8)
    changed[:30, 150:] = 255  # top right of the motion frame
    motion = MotionResult(True, np.zeros((0, 4), np.float32), 0.04, False, changed)
    scene = _grey_scene()
    MotionAnnotator(mask, opacity=0.5).draw(scene, motion)
    tinted = (100 * 0.5 + np.array(PURPLE) * 0.5 + 0.5).astype(np.uint8)
    assert (scene[300, 100] == tinted).all()  # inside the mask
    yellowish = (100 * 0.5 + np.array(YELLOW) * 0.5 + 0.5).astype(np.uint8)
    assert (scene[40, 600] == yellowish).all()  # a changed pixel
    assert (scene[200, 400] == 100).all()  # neither


def test_no_motion_draws_nothing_and_bad_input_is_refused() -> None:
    scene = _grey_scene()
    MotionAnnotator().annotate(scene, _result(None))
    assert (scene == 100).all()
    with pytest.raises(ValueError, match="scene: expected HxWx3 uint8"):
        MotionAnnotator().draw(np.zeros((10, 10), np.uint8), MotionResult.still())
    with pytest.raises(ValueError, match="opacity"):
        MotionAnnotator(opacity=2)
