"""Drawing results onto frames: small annotators, composed.

Each annotator draws one thing (boxes, labels, keypoints, a mask, the HUD,
and, where configured, zones, lines and motion) through one method,
``annotate(scene, result, scale_xy)`` (after supervision's annotators). A new
thing to draw is a new annotator, not another branch in one function.

:class:`Annotator` runs a chain of them on a copy of the frame (sinks share
the frame, so it is never drawn on in place) and keeps the last annotated
image, so recording and a preview that both want the picture pay for the
drawing once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np

from camera_app.annotators.base import PALETTE, SceneAnnotator, color_of, put_text
from camera_app.annotators.classes import ClassesAnnotator, MaskAnnotator
from camera_app.annotators.detections import BoxAnnotator, KeypointAnnotator, LabelAnnotator
from camera_app.annotators.hud import HudAnnotator, hud_text
from camera_app.buffers import BufferPool
from camera_app.results import FrameResult
from camera_app.stats import PipelineStats

__all__ = [
    "PALETTE",
    "Annotator",
    "BoxAnnotator",
    "ClassesAnnotator",
    "HudAnnotator",
    "KeypointAnnotator",
    "LabelAnnotator",
    "MaskAnnotator",
    "SceneAnnotator",
    "color_of",
    "default_annotators",
    "draw_result",
    "hud_text",
    "put_text",
]


def default_annotators() -> list[SceneAnnotator]:
    """Mask under boxes, labels and keypoints, then the classifier's classes."""
    return [
        MaskAnnotator(),
        BoxAnnotator(),
        LabelAnnotator(),
        KeypointAnnotator(),
        ClassesAnnotator(),
    ]


def draw_result(
    image: np.ndarray,
    result: FrameResult,
    annotators: Sequence[SceneAnnotator] | None = None,
    scale_xy: float = 1.0,
) -> np.ndarray:
    """Run ``annotators`` (default: :func:`default_annotators`) on ``image``
    (BGR, modified in place) and return it."""
    for a in default_annotators() if annotators is None else annotators:
        a.annotate(image, result, scale_xy)
    return image


class Annotator:
    """Draws each result once (thread-safe); sinks call ``annotate``.

    ``max_width`` draws on a scaled-down copy of wider frames (recording and
    previews then carry that size): on a Pi, encoding full-HD video costs more
    than inference. ``extra`` annotators (zones, lines, motion) draw after
    the defaults and before the HUD.
    """

    def __init__(
        self,
        hud: bool = True,
        max_width: int | None = None,
        hud_refresh_s: float = 0.5,
        extra: Sequence[SceneAnnotator] = (),
    ) -> None:
        if max_width is not None and max_width < 16:
            raise ValueError(f"max_width must be >= 16, got {max_width}")
        self.hud = hud
        self.max_width = max_width
        self._hud = HudAnnotator(hud_refresh_s)
        self.annotators: list[SceneAnnotator] = [*default_annotators(), *extra]
        if hud:
            self.annotators.append(self._hud)
        self._lock = threading.Lock()
        self._last: tuple[FrameResult, np.ndarray] | None = None
        self._pool = BufferPool(4)  # sinks hold an annotated image while encoding it

    @property
    def stats(self) -> PipelineStats | None:
        return self._hud.stats

    @stats.setter
    def stats(self, stats: PipelineStats | None) -> None:
        self._hud.stats = stats

    def add(self, annotator: SceneAnnotator) -> None:
        """Draw ``annotator`` too, before the HUD."""
        at = len(self.annotators) - (1 if self.hud else 0)
        self.annotators.insert(at, annotator)

    def annotate(self, result: FrameResult) -> np.ndarray:
        with self._lock:
            # the result itself, not its id(): a freed result's id is reused
            if self._last is not None and self._last[0] is result:
                return self._last[1]
            img = result.frame.image
            h, w = img.shape[:2]
            scale = 1.0
            if self.max_width is not None and w > self.max_width:
                scale = self.max_width / w
                size_wh = (self.max_width, max(2, round(h * scale) // 2 * 2))
                out = self._pool.get((size_wh[1], size_wh[0], img.shape[2]))
                img = cv2.resize(img, size_wh, dst=out, interpolation=cv2.INTER_LINEAR)
            else:  # sinks share the frame: never draw on it
                out = self._pool.get(img.shape)
                np.copyto(out, img)
                img = out
            if result.frame.channel_order != "BGR":
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR, dst=img)
            draw_result(img, result, self.annotators, scale)
            self._last = (result, img)
            return img
