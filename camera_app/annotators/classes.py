"""Whole-frame results: segmentation masks and classifier top-k."""

from __future__ import annotations

import cv2
import numpy as np

from camera_app.annotators.base import PALETTE, put_text, text_scale
from camera_app.results import FrameResult


class MaskAnnotator:
    """Tints each segmented class (background, class 0, stays clear)."""

    def __init__(self, opacity: float = 0.5) -> None:
        self.opacity = opacity
        self._colors = PALETTE.copy()
        self._colors[0] = 0

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        if result.mask is None:
            return
        h, w = scene.shape[:2]
        class_map = result.mask.resized((w, h))
        tint = self._colors[class_map]
        fg = class_map > 0
        a = self.opacity
        scene[fg] = cv2.addWeighted(scene, 1 - a, tint, a, 0)[fg]


class ClassesAnnotator:
    """A classifier's top classes, one a line, top left."""

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        if result.classes is None:
            return
        scale, _ = text_scale(scene)
        labels = result.labels
        for row, (cid, score) in enumerate(
            zip(result.classes.class_id, result.classes.score, strict=True)
        ):
            name = labels.name(int(cid)) if labels is not None else None
            put_text(
                scene,
                f"{name or int(cid)}: {score:.2f}",
                (8, int((row + 2.2) * 30 * scale)),
                scale * 0.7,
                (255, 255, 255),
            )
