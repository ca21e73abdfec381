"""Drawing motion for ``--motion-debug``: the mask, changed pixels, boxes."""

from __future__ import annotations

import cv2
import numpy as np

from camera_app.annotators.base import put_text, text_scale
from camera_app.motion.config import Polygon
from camera_app.motion.detector import MotionResult
from camera_app.motion.mask import ignore_mask, polygon_xy
from camera_app.results import FrameResult, Motion

Color = tuple[int, int, int]


class MotionAnnotator:
    """Draws motion onto a BGR ``scene`` (in place), as the other annotators
    (:class:`camera_app.annotators.base.SceneAnnotator`): the ignored area
    (the ``[motion] mask`` polygons) tinted and outlined, the changed pixels
    tinted (when the motion carries them: ``MotionDetector(keep_changed=True)``),
    the motion boxes, and a status line with the changed fraction."""

    def __init__(
        self,
        mask: tuple[Polygon, ...] = (),
        *,
        box_color: Color = (0, 0, 255),
        mask_color: Color = (128, 0, 128),
        changed_color: Color = (0, 255, 255),
        opacity: float = 0.4,
    ) -> None:
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity: expected 0-1, got {opacity}")
        self.mask = mask
        self.box_color = box_color
        self.mask_color = mask_color
        self.changed_color = changed_color
        self.opacity = opacity
        self._ignore: tuple[tuple[object, ...], np.ndarray | None] | None = None

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        """Draw ``result.motion`` (nothing without one); ``scale_xy`` maps
        frame pixels to ``scene`` pixels."""
        if result.motion is not None:
            self.draw(scene, result.motion, scale_xy)

    def draw(self, scene: np.ndarray, motion: Motion | MotionResult, scale_xy: float = 1.0) -> None:
        if scene.ndim != 3 or scene.shape[2] != 3 or scene.dtype != np.uint8:
            raise ValueError(f"scene: expected HxWx3 uint8, got {scene.shape} {scene.dtype}")
        if not scale_xy > 0:
            raise ValueError(f"scale_xy: expected > 0, got {scale_xy}")
        h, w = scene.shape[:2]
        size_wh = (int(w), int(h))
        frame_size_wh = (max(1, round(w / scale_xy)), max(1, round(h / scale_xy)))
        thick = max(1, round(min(w, h) / 400))
        ignore = self._ignore_at(size_wh, frame_size_wh)
        if ignore is not None:
            self._tint(scene, ignore > 0, self.mask_color)
            outlines = [
                np.round(polygon_xy(p, size_wh, frame_size_wh)).astype(np.int32) for p in self.mask
            ]
            cv2.polylines(scene, outlines, True, self.mask_color, thick, cv2.LINE_AA)
        changed = getattr(motion, "changed", None)
        if changed is not None:
            up = cv2.resize(changed, size_wh, interpolation=cv2.INTER_NEAREST)
            self._tint(scene, up > 0, self.changed_color)
        for x1, y1, x2, y2 in motion.boxes_xyxy:
            p1 = (round(float(x1) * scale_xy), round(float(y1) * scale_xy))
            p2 = (round(float(x2) * scale_xy) - 1, round(float(y2) * scale_xy) - 1)
            cv2.rectangle(scene, p1, p2, self.box_color, thick)
        detected = motion.motion if isinstance(motion, MotionResult) else motion.detected
        state = "recalibrated" if motion.recalibrated else ("motion" if detected else "still")
        text = f"{state}: {motion.changed_fraction:.1%} changed"
        scale, _ = text_scale(scene)
        put_text(scene, text, (4, round(30 * scale)), scale * 0.6, (255, 255, 255), self.box_color)

    def _ignore_at(
        self, size_wh: tuple[int, int], frame_size_wh: tuple[int, int]
    ) -> np.ndarray | None:
        key = (size_wh, frame_size_wh)
        if self._ignore is None or self._ignore[0] != key:
            self._ignore = (key, ignore_mask(self.mask, size_wh, frame_size_wh))
        return self._ignore[1]

    def _tint(self, scene: np.ndarray, where: np.ndarray, color: Color) -> None:
        a = self.opacity
        px = scene[where].astype(np.float32)
        scene[where] = (px * (1 - a) + np.array(color, np.float32) * a + 0.5).astype(np.uint8)
