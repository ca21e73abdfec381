"""Motion mask polygons rasterised at a given size."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from camera_app.analysis.geometry import polygon_pixels
from camera_app.motion.config import Polygon

_SHIFT = 4  # fillPoly fractional bits: points are placed to 1/16 pixel


def polygon_xy(
    polygon: Polygon, size_wh: tuple[int, int], frame_size_wh: tuple[int, int]
) -> np.ndarray:
    """The polygon's points, (N, 2) float32, in pixels of an image of
    ``size_wh`` that shows the whole ``frame_size_wh`` frame."""
    scale = np.array(size_wh, np.float32) / np.array(frame_size_wh, np.float32)
    return polygon_pixels(polygon, frame_size_wh) * scale


def ignore_mask(
    polygons: Sequence[Polygon], size_wh: tuple[int, int], frame_size_wh: tuple[int, int]
) -> np.ndarray | None:
    """uint8 (h, w): 255 inside the polygons (ignored), 0 elsewhere; None without polygons."""
    if not polygons:
        return None
    w, h = size_wh
    out = np.zeros((h, w), np.uint8)
    pts = [
        np.round(polygon_xy(p, size_wh, frame_size_wh) * (1 << _SHIFT)).astype(np.int32)
        for p in polygons
    ]
    cv2.fillPoly(out, pts, 255, cv2.LINE_8, _SHIFT)
    return out
