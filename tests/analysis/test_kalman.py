from __future__ import annotations

import numpy as np
import pytest

from camera_app.analysis.kalman import BoxKalman, cxcywh_to_xyxy, xyxy_to_cxcywh


def test_box_conversions_round_trip() -> None:
    xyxy = np.array([[10, 20, 50, 100], [0, 0, 1, 1]], float)
    np.testing.assert_allclose(xyxy_to_cxcywh(xyxy)[0], [30, 60, 40, 80])
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(xyxy)), xyxy)


@pytest.mark.parametrize("fps", [30.0, 3.0])
def test_learns_a_constant_velocity_at_any_frame_rate(fps: float) -> None:
    kf = BoxKalman()
    dt = 1 / fps
    v = np.array([50.0, -20.0])  # pixels per second
    t = 0.0
    kf.add(np.array([[100, 100, 140, 180]], float))
    for _ in range(int(3 * fps)):  # three seconds
        t += dt
        kf.predict(dt)
        cx, cy = 120 + v[0] * t, 140 + v[1] * t
        kf.update(np.array([0]), np.array([[cx - 20, cy - 40, cx + 20, cy + 40]]))
    np.testing.assert_allclose(kf.vel[0, :2], v, atol=3.0)
    kf.predict(1.0)  # one second ahead without a measurement
    np.testing.assert_allclose(kf.boxes()[0], [120 + v[0] * (t + 1) - 20, 140 + v[1] * (t + 1) - 40, 120 + v[0] * (t + 1) + 20, 140 + v[1] * (t + 1) + 40], atol=4.0)  # fmt: skip
    assert (kf.p_pp[0] > 0).all() and (kf.p_vv[0] > 0).all()


def test_keep_and_zero_dt() -> None:
    kf = BoxKalman()
    kf.add(np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float))
    before = kf.boxes().copy()
    kf.predict(0.0)
    np.testing.assert_array_equal(kf.boxes(), before)
    kf.keep(np.array([False, True]))
    assert len(kf) == 1
    np.testing.assert_allclose(kf.boxes()[0], [20, 20, 30, 30])
