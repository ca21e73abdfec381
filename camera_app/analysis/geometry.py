"""Plane geometry shared by masks, zones and lines (numpy, vectorised).

Coordinates are frame pixels, x to the right and y down (image convention).
Polygons and lines in the config may be given relative to the frame (every
coordinate in [0, 1]) or in pixels; :func:`polygon_pixels` turns either into
pixels for one frame size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

PointsLike = Sequence[Sequence[float]] | np.ndarray
PointLike = Sequence[float] | np.ndarray


def bottom_center(xyxy: np.ndarray) -> np.ndarray:
    """The bottom centre of each box, (N, 2) float32: where an object stands."""
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    out = np.empty((len(boxes), 2), np.float32)
    out[:, 0] = (boxes[:, 0] + boxes[:, 2]) * 0.5
    out[:, 1] = boxes[:, 3]
    return out


def is_relative(points: PointsLike) -> bool:
    """True when every coordinate lies in [0, 1]: fractions of the frame."""
    pts = np.asarray(points, dtype=np.float64)
    return bool(pts.size) and bool(np.all((pts >= 0.0) & (pts <= 1.0)))


def polygon_pixels(points: PointsLike, size_wh: tuple[int, int]) -> np.ndarray:
    """Points (M, 2) as frame pixels, (M, 2) float32.

    If every coordinate is within [0, 1] the points are fractions of the frame
    (x of the width, y of the height) and are scaled by ``size_wh``; otherwise
    they are already pixels and are returned as they are. (A pixel polygon
    whose coordinates are all 0 or 1 would be read as relative: not a useful
    polygon anyway.) Works for lines too (M = 2).
    """
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (M, 2), got {pts.shape}")
    if is_relative(pts):
        w, h = size_wh
        return (pts * np.array([w, h], np.float32)).astype(np.float32)
    return pts.copy()


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points are inside ``polygon``, (N,) bool (even-odd rule).

    ``points`` (N, 2), ``polygon`` (M, 2) vertices in order (closed
    implicitly). Points exactly on an edge may fall either way. Cost is
    O(N * M) in numpy, a few microseconds for tens of points.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0 or len(poly) < 3:
        return np.zeros(len(pts), dtype=bool)
    x, y = pts[:, 0:1], pts[:, 1:2]  # (N, 1)
    x1, y1 = poly[:, 0], poly[:, 1]  # (M,)
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)  # (N, M): edge crosses the point's row
    dy = np.where(y2 == y1, 1.0, y2 - y1)  # never used where y1 == y2 (no straddle)
    x_cross = x1 + (y - y1) * (x2 - x1) / dy
    crossings = np.count_nonzero(straddles & (x < x_cross), axis=1)
    inside: np.ndarray = (crossings % 2) == 1
    return inside


def segment_side(points: np.ndarray, a: PointLike, b: PointLike) -> np.ndarray:
    """Which side of the line through ``a`` -> ``b`` each point lies, (N,) int8.

    +1: on the right-hand side when walking from ``a`` to ``b`` as seen on the
    image (y down), -1: on the left, 0: on the line. For a line drawn left to
    right, +1 is below it. A point changes side when the sign flips between
    0-free values.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ax, ay = (float(v) for v in np.asarray(a, dtype=np.float64).reshape(2))
    bx, by = (float(v) for v in np.asarray(b, dtype=np.float64).reshape(2))
    cross = (bx - ax) * (pts[:, 1] - ay) - (by - ay) * (pts[:, 0] - ax)
    return np.sign(cross).astype(np.int8)
