from __future__ import annotations

import numpy as np
import pytest

from camera_app.analysis.geometry import (
    bottom_center,
    is_relative,
    points_in_polygon,
    polygon_pixels,
    segment_side,
)

SQUARE = np.array([[10, 10], [30, 10], [30, 30], [10, 30]], np.float32)
# an L: the square [0, 20]^2 minus its top-right quarter [10, 20] x [0, 10]
L_SHAPE = np.array([[0, 0], [10, 0], [10, 10], [20, 10], [20, 20], [0, 20]], np.float32)


def test_bottom_center_is_the_middle_of_the_bottom_edge() -> None:
    out = bottom_center(np.array([[0, 0, 10, 20], [100, 50, 140, 90]], np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[5, 20], [120, 90]])
    assert bottom_center(np.zeros((0, 4))).shape == (0, 2)


@pytest.mark.parametrize(
    ("points", "size_wh", "expected"),
    [
        ([[0, 0], [1, 0], [0.5, 1]], (200, 100), [[0, 0], [200, 0], [100, 100]]),
        ([[0.25, 0.5], [0.75, 0.5], [0.75, 1]], (400, 200), [[100, 100], [300, 100], [300, 200]]),
        # one coordinate above 1: the whole polygon is in pixels
        ([[0, 0], [2, 0], [0.5, 1]], (200, 100), [[0, 0], [2, 0], [0.5, 1]]),
        ([[10, 20], [300, 20], [300, 200]], (640, 480), [[10, 20], [300, 20], [300, 200]]),
    ],
)
def test_polygon_pixels_relative_or_pixels(
    points: list[list[float]], size_wh: tuple[int, int], expected: list[list[float]]
) -> None:
    out = polygon_pixels(points, size_wh)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected)


def test_polygon_pixels_rejects_a_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        polygon_pixels(np.array([1, 2, 3]), (10, 10))
    assert not is_relative([])


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (20, 20), True),
        (SQUARE, (5, 20), False),
        (SQUARE, (35, 20), False),
        (SQUARE, (20, 5), False),
        (SQUARE, (20, 35), False),
        (L_SHAPE, (5, 5), True),
        (L_SHAPE, (15, 5), False),  # the notch of the L
        (L_SHAPE, (15, 15), True),
        (L_SHAPE, (5, 15), True),
        (L_SHAPE, (25, 15), False),
    ],
)
def test_points_in_polygon(polygon: np.ndarray, point: tuple[float, float], inside: bool) -> None:
    assert points_in_polygon(np.array([point]), polygon).tolist() == [inside]


def test_points_in_polygon_is_vectorised_and_handles_empty_input() -> None:
    pts = np.array([[5, 5], [15, 5], [15, 15], [25, 15]])
    assert points_in_polygon(pts, L_SHAPE).tolist() == [True, False, True, False]
    assert points_in_polygon(np.zeros((0, 2)), L_SHAPE).shape == (0,)
    assert not points_in_polygon(pts, L_SHAPE[:2]).any()  # not a polygon


def test_points_in_polygon_matches_opencv_on_random_points() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    poly = np.array([[50, 10], [90, 40], [70, 90], [30, 80], [10, 30], [45, 45]], np.float32)
    pts = rng.uniform(0, 100, (500, 2))
    expected = [cv2.pointPolygonTest(poly, (float(x), float(y)), False) > 0 for x, y in pts]
    got = points_in_polygon(pts, poly)
    assert got.sum() > 50  # the test means something
    assert got.tolist() == expected


@pytest.mark.parametrize(
    ("a", "b", "point", "side"),
    [
        ((0, 0), (10, 0), (5, 5), 1),  # left to right: below (y down) is +1
        ((0, 0), (10, 0), (5, -5), -1),
        ((0, 0), (10, 0), (20, 0), 0),
        ((10, 0), (0, 0), (5, 5), -1),  # reversed line: sides swap
        ((0, 0), (0, 10), (-5, 5), 1),  # top to bottom: left on screen is +1
        ((0, 0), (0, 10), (5, 5), -1),
    ],
)
def test_segment_side(
    a: tuple[float, float], b: tuple[float, float], point: tuple[float, float], side: int
) -> None:
    out = segment_side(np.array([point], np.float32), a, b)
    assert out.dtype == np.int8
    assert out.tolist() == [side]
