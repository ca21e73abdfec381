"""What every annotator shares: the protocol, colours, text."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from camera_app.results import FrameResult


class SceneAnnotator(Protocol):
    """Draws one thing onto ``scene`` (BGR, in place).

    ``scale_xy`` maps the result's frame pixels to ``scene`` pixels (the
    scene may be a scaled copy of the frame)."""

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None: ...


def _palette(n: int = 256) -> np.ndarray:
    """Distinct BGR colours by class id (golden-ratio hues)."""
    hues = (np.arange(n) * 0.618033988749895 % 1.0 * 179).astype(np.uint8)
    hsv = np.stack([hues, np.full(n, 220, np.uint8), np.full(n, 255, np.uint8)], axis=1)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2BGR)[0]


PALETTE = _palette()
FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_of(class_id: int) -> tuple[int, int, int]:
    b, g, r = PALETTE[int(class_id) % len(PALETTE)]
    return int(b), int(g), int(r)


def text_scale(scene: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness for a scene of this size."""
    h, w = scene.shape[:2]
    return max(0.75, min(w, h) / 720), max(1, round(min(w, h) / 400))


def put_text(
    img: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    color: tuple[int, int, int],
    bg: tuple[int, int, int] | None = (0, 0, 0),
) -> None:
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    x, y = org
    y = max(th + 2, y)
    if bg is not None:
        cv2.rectangle(img, (x, y - th - 3), (x + tw + 4, y + base - 1), bg, cv2.FILLED)
    cv2.putText(img, text, (x + 2, y - 2), FONT, scale, color, thick, cv2.LINE_AA)
