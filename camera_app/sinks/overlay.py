"""Drawing results onto frames: boxes, labels, keypoints, masks, a HUD.

``Annotator`` draws onto a copy of the frame (sinks share the frame, so it is
never drawn on in place) and keeps the last annotated image, so recording and
a preview that both want the picture pay for the drawing once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from camera_app.buffers import BufferPool
from camera_app.inference.decoders.pose import KEYPOINT_THRESHOLD, SKELETON
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import PipelineStats, StatsSnapshot


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


def _text(
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


def draw_result(
    image: np.ndarray, result: FrameResult, hud: str | None = None, scale_xy: float = 1.0
) -> np.ndarray:
    """Draw ``result`` onto ``image`` (BGR, modified in place) and return it.

    ``scale_xy`` maps the result's frame pixels to ``image`` pixels (the
    image is a scaled copy of the frame)."""
    h, w = image.shape[:2]
    scale = max(0.75, min(w, h) / 720)
    thick = max(1, round(min(w, h) / 400))
    if result.mask is not None:
        class_map = result.mask.resized((w, h))
        colors = PALETTE.copy()
        colors[0] = 0
        tint = colors[class_map]
        fg = class_map > 0
        image[fg] = cv2.addWeighted(image, 0.5, tint, 0.5, 0)[fg]
    det = result.detections
    labels = result.labels
    for i in range(len(det)):
        x1, y1, x2, y2 = (round(float(v) * scale_xy) for v in det.xyxy[i])
        cid = int(det.class_id[i])
        color = color_of(cid)
        cv2.rectangle(image, (x1, y1), (x2, y2), color, thick)
        name = labels.name(cid) if labels is not None else None
        _text(
            image,
            f"{name or cid} {det.confidence[i]:.2f}",
            (x1, y1),
            scale * 0.6,
            (255, 255, 255),
            color,
        )
        if det.keypoints is not None:
            kp = det.keypoints[i] * np.array([scale_xy, scale_xy, 1.0], np.float32)
            if len(kp) == 17:
                for a, b in SKELETON:
                    if kp[a, 2] >= KEYPOINT_THRESHOLD and kp[b, 2] >= KEYPOINT_THRESHOLD:
                        cv2.line(
                            image,
                            (int(kp[a, 0]), int(kp[a, 1])),
                            (int(kp[b, 0]), int(kp[b, 1])),
                            (0, 255, 255),
                            thick,
                            cv2.LINE_AA,
                        )
            for x, y, s in kp:
                if s >= KEYPOINT_THRESHOLD:
                    cv2.circle(image, (int(x), int(y)), thick + 2, (0, 0, 255), cv2.FILLED)
    if result.classes is not None:
        for row, (cid, score) in enumerate(
            zip(result.classes.class_id, result.classes.score, strict=True)
        ):
            name = labels.name(int(cid)) if labels is not None else None
            _text(
                image,
                f"{name or int(cid)}: {score:.2f}",
                (8, int((row + 2.2) * 30 * scale)),
                scale * 0.7,
                (255, 255, 255),
            )
    if hud:
        _text(image, hud, (0, h - 4), scale * 0.5, (0, 255, 0))
    return image


def hud_text(result: FrameResult, stats: StatsSnapshot | None) -> str:
    parts = []
    if stats is not None:
        parts.append(f"{stats.fps_inference:.1f} fps")
    parts.append(f"inference {result.timings.inference_ms:.0f} ms")
    parts.append(f"latency {result.latency_ms:.0f} ms")
    if stats is not None:
        parts.append(f"dropped {stats.dropped_total}")
        if stats.source_state not in ("up", "stopped"):
            parts.append(f"camera {stats.source_state}")
    return " | ".join(parts)


class Annotator:
    """Draws each result once (thread-safe); sinks call ``annotate``.

    ``max_width`` draws on a scaled-down copy of wider frames (recording and
    previews then carry that size): on a Pi, encoding full-HD video costs more
    than inference. The HUD's figures are refreshed at most every
    ``hud_refresh_s``: a stats snapshot takes the stats lock that inference
    also needs.
    """

    def __init__(
        self, hud: bool = True, max_width: int | None = None, hud_refresh_s: float = 0.5
    ) -> None:
        if max_width is not None and max_width < 16:
            raise ValueError(f"max_width must be >= 16, got {max_width}")
        self.hud = hud
        self.max_width = max_width
        self.hud_refresh_ns = int(hud_refresh_s * 1e9)
        self.stats: PipelineStats | None = None
        self._lock = threading.Lock()
        self._last: tuple[FrameResult, np.ndarray] | None = None
        self._pool = BufferPool(4)  # sinks hold an annotated image while encoding it
        self._snap: StatsSnapshot | None = None
        self._snap_ns = 0

    def _stats(self) -> StatsSnapshot | None:
        if not self.hud or self.stats is None:
            return None
        now = time.monotonic_ns()
        if self._snap is None or now - self._snap_ns >= self.hud_refresh_ns:
            self._snap, self._snap_ns = self.stats.snapshot(), now
        return self._snap

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
            draw_result(img, result, hud_text(result, self._stats()) if self.hud else None, scale)
            self._last = (result, img)
            return img


class AnnotatingSink(BaseSink):
    """A sink that shows the annotated picture (recording, previews): its
    shared :class:`Annotator` draws the HUD from the run's stats."""

    annotator: Annotator

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        if self.annotator.stats is None:
            self.annotator.stats = stats
