"""[motion] and [detect] fps: built from TOML by the generic validator."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from camera_app.errors import ConfigError
from camera_app.motion import DetectRateConfig, MotionConfig, check_mask_fits, check_motion
from camera_app.validation import build


def motion(toml: str) -> MotionConfig:
    cfg: MotionConfig = build(MotionConfig, tomllib.loads(toml), "motion")
    check_motion(cfg)
    return cfg


def test_defaults_are_frigate_like() -> None:
    m = MotionConfig()
    assert (m.enabled, m.threshold, m.contour_area, m.frame_height) == (False, 30, 10, 120)
    assert (m.lightning_threshold, m.improve_contrast, m.mask) == (0.8, True, ())
    assert (m.keepalive_s, m.off_delay_s, m.background_s) == (5.0, 30.0, 1.0)
    assert DetectRateConfig().fps is None


def test_a_full_section_is_read() -> None:
    m = motion(
        """
        enabled = true
        threshold = 25
        contour_area = 20
        frame_height = 180
        improve_contrast = false
        background_s = 2.5
        lightning_threshold = 0.7
        keepalive_s = 0
        off_delay_s = 10
        mask = [
          [[0, 0], [0.5, 0], [0.5, 0.2]],          # fractions of the frame
          [[100, 300], [400, 300], [400, 720], [100, 720]],  # pixels
        ]
        """
    )
    assert m.enabled and m.threshold == 25 and m.frame_height == 180 and m.keepalive_s == 0.0
    assert m.mask == (
        ((0.0, 0.0), (0.5, 0.0), (0.5, 0.2)),
        ((100.0, 300.0), (400.0, 300.0), (400.0, 720.0), (100.0, 720.0)),
    )
    assert build(DetectRateConfig, {"fps": 5}, "detect").fps == 5.0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("threshold = 0", "motion.threshold: expected an integer from 1 to 255, got 0"),
        ("threshold = 30.5", "motion.threshold: expected an integer from 1 to 255, got 30.5"),
        ("contour_area = 0", "motion.contour_area: expected an integer"),
        ("frame_height = 8", "motion.frame_height: expected an integer from 16 to 1080, got 8"),
        ("lightning_threshold = 1.5", "motion.lightning_threshold: expected a number > 0 and <= 1"),
        ("keepalive_s = -1", "motion.keepalive_s: expected a number from 0 to 86400, got -1"),
        ("background_s = 0", "motion.background_s: expected a number > 0"),
        ("enabled = 1", "motion.enabled: expected true or false, got 1"),
        ("mask = [[[0, 0], [1, -1], [1, 1]]]", "motion.mask: expected a list of polygons"),
        ("mask = [[0, 0, 1, 1]]", "motion.mask: expected a list of polygons"),
        (
            "mask = [[[0, 0], [1, 1]]]",
            r"motion.mask\[0\]: expected a polygon of at least 3 \[x, y\] points, got 2",
        ),
        (
            "contour = 10",
            'unknown key "contour" in \\[motion\\] \\(did you mean "contour_area"\\?\\)',
        ),
    ],
)
def test_bad_values_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        motion(toml)


@pytest.mark.parametrize("fps", [0, -5, "5", 2000])
def test_bad_detect_fps(fps: Any) -> None:
    with pytest.raises(ConfigError, match=r"detect\.fps: expected a number > 0 and <= 1000"):
        build(DetectRateConfig, {"fps": fps}, "detect")


def test_pixel_polygons_must_fit_the_frame_fractions_always_do() -> None:
    m = motion("mask = [[[0, 0], [0.9, 0], [0.9, 1]], [[10, 10], [1280, 10], [1280, 720]]]")
    check_mask_fits(m, (1280, 720))
    with pytest.raises(
        ConfigError, match=r"motion.mask\[1\]: point \[1280, 10\] is outside the 640x480 frame"
    ):
        check_mask_fits(m, (640, 480))
