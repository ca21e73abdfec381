"""Mask polygons rasterised at the motion frame's size."""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.motion.mask import ignore_mask, polygon_xy


def test_no_polygons_no_mask() -> None:
    assert ignore_mask((), (213, 120), (1280, 720)) is None


@pytest.mark.parametrize("size_wh", [(213, 120), (1280, 720), (160, 90)])
def test_fractions_and_pixels_give_the_same_mask(size_wh: tuple[int, int]) -> None:
    rel = ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75))
    px = ((320, 180), (960, 180), (960, 540), (320, 540))
    a = ignore_mask((rel,), size_wh, (1280, 720))
    b = ignore_mask((px,), size_wh, (1280, 720))
    assert a is not None and b is not None and a.shape == (size_wh[1], size_wh[0])
    np.testing.assert_array_equal(a, b)
    w, h = size_wh
    assert a[h // 2, w // 2] == 255 and a[2, 2] == 0 and a[h - 3, w - 3] == 0
    assert abs(int(np.count_nonzero(a)) - w * h / 4) <= (w + h) * 1.5  # a quarter, up to the edges


def test_polygon_points_are_scaled_to_the_image() -> None:
    np.testing.assert_allclose(
        polygon_xy(((0, 0), (640, 0), (640, 360)), (320, 180), (1280, 720)),
        [[0, 0], [160, 0], [160, 90]],
    )
    np.testing.assert_allclose(
        polygon_xy(((0, 0), (1, 0), (1, 0.5)), (320, 180), (1280, 720)),
        [[0, 0], [320, 0], [320, 90]],
    )


def test_several_polygons_add_up() -> None:
    tri = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5))
    corner = ((0.9, 0.9), (1.0, 0.9), (1.0, 1.0), (0.9, 1.0))
    m = ignore_mask((tri, corner), (200, 100), (200, 100))
    assert m is not None
    assert m[5, 5] == 255 and m[95, 195] == 255 and m[50, 100] == 0
