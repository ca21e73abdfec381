"""[motion] and the detect-rate setting: what gates inference.

Field meanings follow Frigate's ``motion`` section where a field exists
there (``threshold``, ``contour_area``, ``frame_height``,
``improve_contrast``, ``mask``, ``lightning_threshold``). Frigate's
``frame_alpha`` is a weight per processed frame, so its effect depends on
the frame rate; ``background_s`` is the same running average as a time
constant (each frame weighs ``1 - exp(-dt / background_s)``, with ``dt``
from the frames' timestamps), so a 10 fps recording and a 30 fps camera
behave alike.

Mask polygons: each polygon is a list of ``[x, y]`` points. A polygon whose
coordinates are all within 0-1 is in fractions of the frame's width and
height (Frigate 0.14+); any other polygon is in pixels of the frame results
are reported in (the main stream, also when motion runs on the lores
stream). Pixels inside a polygon never count as motion.
"""

from __future__ import annotations

from dataclasses import dataclass

from camera_app.analysis.geometry import is_relative
from camera_app.errors import ConfigError
from camera_app.validation import opt

Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """[motion] a cheap detector on a small grey frame that gates inference."""

    enabled: bool = opt(False, "run inference only on motion, active tracks and keep-alives")
    threshold: int = opt(
        30,
        "grey-level difference from the background above which a pixel has changed",
        ge=1,
        le=255,
    )
    contour_area: int = opt(
        10,
        "smallest area a changed outline encloses to be motion, in motion-frame pixels (a 4x4 blob: 9)",
        ge=1,
        le=1000000,
    )
    frame_height: int = opt(
        120, "height of the small grey frame motion is computed on (aspect kept)", ge=16, le=1080
    )
    background_s: float = opt(
        1.0,
        "time constant of the running-average background: how fast still changes fade into it",
        gt=0,
        le=3600,
    )
    improve_contrast: bool = opt(
        True, "stretch the grey levels between the 4th and 96th percentiles first"
    )
    mask: tuple[Polygon, ...] = opt(
        (),
        "polygons where motion is ignored: [[x, y], ...] in 0-1 fractions of the frame or in pixels",
        expected="a list of polygons, each a list of [x, y] points >= 0",
        ge=0,
    )
    lightning_threshold: float = opt(
        0.8,
        "fraction of the frame that changes at once (or gets brighter or darker by half the "
        "threshold) above which the background is reset instead (lights, exposure)",
        gt=0,
        le=1,
    )
    keepalive_s: float = opt(
        5.0, "infer at least this often without motion or tracks; 0: never", ge=0, le=86400
    )
    off_delay_s: float = opt(
        30.0, "motion state turns OFF after this long without motion (MQTT)", ge=0, le=86400
    )


@dataclass(frozen=True, slots=True)
class DetectRateConfig:
    """The ``fps`` field of [detect]: a cap on inferences per second."""

    fps: float | None = opt(
        None, "infer at most this many frames per second; absent: no cap", gt=0, le=1000
    )


def check_motion(m: MotionConfig, key: str = "motion") -> None:
    """[motion] checks beyond types and bounds (run at load and by the detector)."""
    for i, polygon in enumerate(m.mask):
        if len(polygon) < 3:
            raise ConfigError(
                f"{key}.mask[{i}]: expected a polygon of at least 3 [x, y] points, got {len(polygon)}"
            )


def check_mask_fits(m: MotionConfig, frame_size_wh: tuple[int, int], key: str = "motion") -> None:
    """Pixel polygons must lie within the frame (known once the source is open)."""
    w, h = frame_size_wh
    for i, polygon in enumerate(m.mask):
        if is_relative(polygon):
            continue
        for x, y in polygon:
            if x > w or y > h:
                raise ConfigError(
                    f"{key}.mask[{i}]: point [{x:g}, {y:g}] is outside the {w}x{h} frame "
                    "(pixels of the frame, or all within 0-1 for fractions)"
                )
