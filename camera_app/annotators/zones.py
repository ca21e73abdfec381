"""Zones and lines on the picture, with their counts (``[[zones]]``, ``[[lines]]``).

:class:`ZoneAnnotator` outlines each zone's polygon (thicker while something
is in it) and writes ``name: label n, ...`` from ``result.zone_counts`` at
its top vertex. :class:`LineAnnotator` draws each line, an arrow at its
middle pointing to its ``in`` side (see :mod:`camera_app.analysis.lines`)
and ``name: label in i out o, ...`` from ``result.line_counts`` beside its
first point. Points given as fractions of the frame or as pixels are turned
into pixels of the frame (:func:`~camera_app.analysis.geometry.polygon_pixels`),
then into pixels of the scene, which may be a scaled copy. Track ids are the
label annotator's (``person #3``).

:func:`annotators_for` returns the ones a config needs, for the shared
:class:`~camera_app.annotators.Annotator` (``annotator.add(a)``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from camera_app.analysis.geometry import polygon_pixels
from camera_app.analysis.lines import LineConfig
from camera_app.analysis.zones import ZoneConfig
from camera_app.annotators.base import FONT, SceneAnnotator, put_text, text_scale
from camera_app.results import FrameResult

if TYPE_CHECKING:
    from camera_app.config import AppConfig

log = logging.getLogger(__name__)

Color = tuple[int, int, int]
ZONE_COLORS: tuple[Color, ...] = (
    (0, 200, 255),
    (255, 160, 0),
    (200, 0, 255),
    (0, 255, 120),
    (255, 0, 120),
    (120, 255, 255),
)
"""BGR, one per zone (and per line), in config order, repeating."""
LINE_COLORS: tuple[Color, ...] = ((0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 128, 255))
TEXT_COLOR: Color = (255, 255, 255)


def annotators_for(config: AppConfig) -> list[SceneAnnotator]:
    """The zone and line annotators ``config`` asks for (none without
    ``[[zones]]`` or ``[[lines]]``)."""
    out: list[SceneAnnotator] = []
    zones = config.section("zones")
    if zones:
        out.append(ZoneAnnotator(zones))
    lines = config.section("lines")
    if lines:
        out.append(LineAnnotator(lines))
    return out


def _frame_size_wh(result: FrameResult) -> tuple[int, int]:
    h, w = result.frame.image.shape[:2]
    return int(w), int(h)


def _scene_points(
    points: Sequence[Sequence[float]], frame_wh: tuple[int, int], scale_xy: float
) -> np.ndarray:
    """Config points (fractions or pixels) as int32 pixels of the scene."""
    px = polygon_pixels(points, frame_wh) * np.float32(scale_xy)
    out: np.ndarray = np.round(px).astype(np.int32)
    return out


def _label(
    scene: np.ndarray,
    text: str,
    anchor: tuple[int, int],
    scale: float,
    bg: Color,
    color: Color = TEXT_COLOR,
) -> tuple[int, int]:
    """``text`` with its bottom-left at ``anchor``, moved inside the scene;
    returns where it went."""
    h, w = scene.shape[:2]
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    x = min(max(0, anchor[0]), max(0, w - tw - 4))
    y = min(max(th + 3, anchor[1]), h - base - 1)
    put_text(scene, text, (x, y), scale, color, bg)
    return x, y


def zone_text(name: str, counts: Mapping[str, int] | None) -> str:
    """``driveway: person 1, car 0`` (just the name before any count)."""
    if not counts:
        return name
    return f"{name}: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))


def line_text(name: str, counts: Mapping[str, tuple[int, int]] | None) -> str:
    """``gate: person in 3 out 1`` (``in 0 out 0`` before any crossing)."""
    if not counts:
        return f"{name}: in 0 out 0"
    return f"{name}: " + ", ".join(
        f"{label} in {i} out {o}" for label, (i, o) in sorted(counts.items())
    )


class ZoneAnnotator:
    """Zone outlines and their per-label counts (see the module doc)."""

    def __init__(self, zones: Sequence[ZoneConfig], colors: Sequence[Color] = ZONE_COLORS) -> None:
        if not colors:
            raise ValueError("colors: expected at least one")
        self.zones = tuple(zones)
        self.colors = tuple(colors)
        self._cache: tuple[tuple[tuple[int, int], float], list[np.ndarray]] | None = None

    def polygons(self, frame_wh: tuple[int, int], scale_xy: float) -> list[np.ndarray]:
        """Each zone's polygon in scene pixels (cached for one frame size and scale)."""
        key = (frame_wh, scale_xy)
        if self._cache is None or self._cache[0] != key:
            polys = [_scene_points(z.points, frame_wh, scale_xy) for z in self.zones]
            self._cache = (key, polys)
        return self._cache[1]

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        scale, thick = text_scale(scene)
        polys = self.polygons(_frame_size_wh(result), scale_xy)
        for i, (zone, poly) in enumerate(zip(self.zones, polys, strict=True)):
            color = self.colors[i % len(self.colors)]
            counts = result.zone_counts.get(zone.name)
            occupied = counts is not None and any(n > 0 for n in counts.values())
            cv2.polylines(scene, [poly], True, color, thick * (2 if occupied else 1), cv2.LINE_AA)
            top = poly[int(np.argmin(poly[:, 1]))]
            text = zone_text(zone.name, counts)
            anchor = (int(top[0]), int(top[1]) - 4)
            if occupied:  # dark text on the zone's colour
                _label(scene, text, anchor, scale * 0.55, color, (0, 0, 0))
            else:
                _label(scene, text, anchor, scale * 0.55, (0, 0, 0), color)


class LineAnnotator:
    """Counting lines, their ``in`` direction and crossings (see the module doc)."""

    def __init__(self, lines: Sequence[LineConfig], colors: Sequence[Color] = LINE_COLORS) -> None:
        if not colors:
            raise ValueError("colors: expected at least one")
        self.lines = tuple(lines)
        self.colors = tuple(colors)
        self._cache: tuple[tuple[tuple[int, int], float], list[np.ndarray]] | None = None

    def segments(self, frame_wh: tuple[int, int], scale_xy: float) -> list[np.ndarray]:
        """Each line's two ends in scene pixels, (2, 2) int32."""
        key = (frame_wh, scale_xy)
        if self._cache is None or self._cache[0] != key:
            segs = [_scene_points(line.points, frame_wh, scale_xy) for line in self.lines]
            self._cache = (key, segs)
        return self._cache[1]

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        scale, thick = text_scale(scene)
        segs = self.segments(_frame_size_wh(result), scale_xy)
        arrow_px = max(16.0, min(scene.shape[:2]) / 12)
        for i, (line, seg) in enumerate(zip(self.lines, segs, strict=True)):
            color = self.colors[i % len(self.colors)]
            a, b = (int(seg[0, 0]), int(seg[0, 1])), (int(seg[1, 0]), int(seg[1, 1]))
            cv2.line(scene, a, b, color, thick + 1, cv2.LINE_AA)
            d = seg[1].astype(np.float64) - seg[0].astype(np.float64)
            normal = np.array([-d[1], d[0]]) / max(1e-9, float(np.hypot(*d)))  # the "in" side
            mid = (seg[0] + seg[1]) / 2.0
            tip = mid + normal * arrow_px
            cv2.arrowedLine(
                scene,
                (round(mid[0]), round(mid[1])),
                (round(tip[0]), round(tip[1])),
                color,
                thick,
                cv2.LINE_AA,
                tipLength=0.35,
            )
            put_text(scene, "in", (round(tip[0]) + 3, round(tip[1]) + 6), scale * 0.5, color, None)
            # the label on the "out" side of the first end, clear of the arrow
            anchor = seg[0] - normal * (arrow_px * 0.3)
            text = line_text(line.name, result.line_counts.get(line.name))
            _label(scene, text, (round(anchor[0]), round(anchor[1])), scale * 0.55, (0, 0, 0))
