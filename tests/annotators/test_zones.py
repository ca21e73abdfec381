"""Zones and lines on the picture: outlines, the in arrow, counts from the result."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.analysis.lines import LineConfig
from camera_app.analysis.zones import ZoneConfig
from camera_app.annotators import Annotator
from camera_app.annotators.zones import (
    LINE_COLORS,
    ZONE_COLORS,
    LineAnnotator,
    ZoneAnnotator,
    annotators_for,
    line_text,
    zone_text,
)
from camera_app.config import AppConfig
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
W, H = 640, 360
ZONE = ZoneConfig("table", ((0.25, 0.4), (0.75, 0.4), (0.75, 0.9), (0.25, 0.9)))
"""In pixels of a 640x360 frame: x 160-480, y 144-324."""
LINE = LineConfig("gate", ((0.1, 0.5), (0.9, 0.5)))
"""y = 180, x 64-576; drawn left to right, so "in" is down the picture."""


def result(
    zone_counts: Mapping[str, Mapping[str, int]] | None = None,
    line_counts: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
    size_wh: tuple[int, int] = (W, H),
) -> FrameResult:
    w, h = size_wh
    frame = Frame(
        np.zeros((h, w, 3), np.uint8), 0, time.monotonic_ns(), SourceInfo("t", "t", size_wh)
    )
    return FrameResult(
        frame,
        "ssd",
        Detections.empty(),
        zone_counts=zone_counts or {},
        line_counts=line_counts or {},
    )


def draw(
    annotator: ZoneAnnotator | LineAnnotator, r: FrameResult, scale: float = 1.0
) -> np.ndarray:
    h, w = r.frame.image.shape[:2]
    scene = np.zeros((round(h * scale), round(w * scale), 3), np.uint8)
    annotator.annotate(scene, r, scale)
    return scene


def near(img: np.ndarray, x: float, y: float, color: tuple[int, int, int], r: int = 2) -> bool:
    x, y = round(x), round(y)
    patch = img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(color)).sum(axis=1) <= 60).any())


def drawn(img: np.ndarray, x: float, y: float, r: int = 2) -> bool:
    x, y = round(x), round(y)
    return bool(img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].any())


# -- zones -------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_zone_outline_follows_the_polygon(scale: float) -> None:
    img = draw(ZoneAnnotator([ZONE]), result(), scale)
    color = ZONE_COLORS[0]
    corners = [(160, 144), (480, 144), (480, 324), (160, 324)]
    for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
        for t in (0.25, 0.5, 0.75):  # along every edge
            x, y = (x1 + (x2 - x1) * t) * scale, (y1 + (y2 - y1) * t) * scale
            if y1 == y2 == 144 and x < 330 * scale:
                continue  # the name label sits on the top edge's left part
            assert near(img, x, y, color), (x, y)
    assert not drawn(img, 320 * scale, 250 * scale, 8)  # inside: only the outline
    assert not drawn(img, 40 * scale, 60 * scale, 8)  # outside
    assert not drawn(img, 600 * scale, 340 * scale, 8)


def test_pixel_points_draw_the_same_zone_as_fractions() -> None:
    pixels = ZoneConfig("table", ((160, 144), (480, 144), (480, 324), (160, 324)))
    a = draw(ZoneAnnotator([ZONE]), result())
    b = draw(ZoneAnnotator([pixels]), result())
    assert np.array_equal(a, b)


def label_box(counts: Mapping[str, int] | None) -> np.ndarray:
    """Where the zone's label is: left part of the strip above its top edge."""
    img = draw(ZoneAnnotator([ZONE]), result({"table": counts} if counts is not None else {}))
    return img[110:146, 150:420]


def test_zone_counts_are_written_at_the_top_vertex() -> None:
    none, one, two = label_box(None), label_box({"person": 1}), label_box({"person": 2})
    assert none.any() and one.any()  # the name, then the name and the count
    assert not np.array_equal(one, two)  # the count itself is drawn
    assert not np.array_equal(none, one)
    assert zone_text("table", {"person": 2, "car": 0}) == "table: car 0, person 2"
    assert zone_text("table", {}) == "table"


def test_an_occupied_zone_is_drawn_bolder() -> None:
    color = np.array(ZONE_COLORS[0])

    def colored(counts: Mapping[str, int]) -> int:
        img = draw(ZoneAnnotator([ZONE]), result({"table": counts}))[150:, :]  # below the label
        return int((np.abs(img.astype(int) - color).sum(axis=2) <= 60).sum())

    assert colored({"person": 1}) > 1.5 * colored({"person": 0})


def test_each_zone_gets_its_own_colour() -> None:
    other = ZoneConfig("door", ((0.85, 0.05), (0.98, 0.05), (0.98, 0.3), (0.85, 0.3)))
    img = draw(ZoneAnnotator([ZONE, other]), result())
    assert near(img, 0.98 * W, 0.2 * H, ZONE_COLORS[1])
    assert not near(img, 0.98 * W, 0.2 * H, ZONE_COLORS[0])


# -- lines -------------------------------------------------------------------------
def test_line_is_drawn_with_its_in_arrow_below_when_drawn_left_to_right() -> None:
    img = draw(LineAnnotator([LINE]), result())
    color = LINE_COLORS[0]
    for x in (150, 250, 400, 500):
        assert near(img, x, 180, color), x
    arrow = max(16.0, H / 12)  # 30 px from the middle (320, 180)
    assert near(img, 320, 180 + arrow * 0.6, color)  # "in": below
    assert not drawn(img, 320, 180 - arrow * 0.6, 3)  # nothing above the middle


def test_swapping_the_points_swaps_the_arrow() -> None:
    swapped = LineConfig("gate", ((0.9, 0.5), (0.1, 0.5)))
    img = draw(LineAnnotator([swapped]), result())
    arrow = max(16.0, H / 12)
    assert near(img, 320, 180 - arrow * 0.6, LINE_COLORS[0])
    assert not drawn(img, 320, 180 + arrow * 0.6, 3)


def test_line_counts_are_written_beside_the_first_point() -> None:
    def region(counts: Mapping[str, tuple[int, int]] | None) -> np.ndarray:
        img = draw(LineAnnotator([LINE]), result(line_counts={"gate": counts} if counts else {}))
        return img[140:180, 50:400]  # above the line at its first end (the "out" side)

    zero, some, more = region(None), region({"person": (3, 1)}), region({"person": (4, 1)})
    assert zero.any() and some.any()
    assert not np.array_equal(some, more)
    assert line_text("gate", {"person": (3, 1)}) == "gate: person in 3 out 1"
    assert line_text("gate", None) == "gate: in 0 out 0"


# -- composition -------------------------------------------------------------------
def test_annotators_for_a_config() -> None:
    config = AppConfig.default()
    assert annotators_for(config) == []
    config = config.with_section("zones", (ZONE,)).with_section("lines", (LINE,))
    made = annotators_for(config)
    assert [type(a) for a in made] == [ZoneAnnotator, LineAnnotator]


def test_through_the_shared_annotator_on_a_scaled_copy(videos_dir: Path) -> None:
    """Zones and lines join the default annotators (``Annotator.add``) and follow
    its ``max_width``; the shared frame stays clean. Saves a picture to look at."""
    cap = cv2.VideoCapture(str(videos_dir / "one-by-one-person-detection.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, image = cap.read()
    cap.release()
    assert ok
    h, w = image.shape[:2]
    frame = Frame(image, 120, time.monotonic_ns(), SourceInfo("t", "video", (w, h)))
    det = Detections(
        np.array([[316, 106, 489, 430]], np.float32),
        np.array([0.8], np.float32),
        np.array([0]),
        tracker_id=np.array([3]),
    )
    r = FrameResult(
        frame,
        "ssd",
        det,
        zone_counts={"table": {"person": 1}},
        line_counts={"gate": {"person": (3, 1)}},
    )
    annotator = Annotator(hud=False, max_width=w // 2)
    for a in annotators_for(AppConfig.default().with_section("zones", (ZONE,)).with_section("lines", (LINE,))):  # fmt: skip
        annotator.add(a)
    before = image.copy()
    out = annotator.annotate(r)
    assert np.array_equal(image, before)
    assert out.shape[1] == w // 2
    s = out.shape[1] / w
    assert near(out, 0.75 * w * s, 0.65 * h * s, ZONE_COLORS[0])  # the zone's right edge
    assert near(out, 0.3 * w * s, 0.5 * h * s, LINE_COLORS[0])
    ARTIFACTS.mkdir(exist_ok=True)
    assert cv2.imwrite(str(ARTIFACTS / "zones_lines.png"), out)
