"""Non-maximum suppression on numpy columns.

``nms`` is the greedy hard NMS every YOLO export needs (per class by
offsetting each class's boxes into its own region of the plane, or class
agnostic). ``weighted_nms`` is MediaPipe's ``WEIGHTED`` algorithm used by
BlazeFace: each kept detection becomes the score-weighted average of the
boxes (and keypoints) it suppresses, and keeps the top score.

Both loop once per *kept* box; the overlap of that box with every remaining
one is computed in one vectorised step.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

log = logging.getLogger(__name__)


def box_area(xyxy: np.ndarray) -> np.ndarray:
    """(N,) areas of (N, 4) x1, y1, x2, y2 boxes; inverted boxes have area 0."""
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def iou_one_to_many(box_xyxy: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
    """(M,) intersection over union of one (4,) box with (M, 4) boxes (0 where empty)."""
    ix1 = np.maximum(box_xyxy[0], boxes_xyxy[:, 0])
    iy1 = np.maximum(box_xyxy[1], boxes_xyxy[:, 1])
    ix2 = np.minimum(box_xyxy[2], boxes_xyxy[:, 2])
    iy2 = np.minimum(box_xyxy[3], boxes_xyxy[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = max(float(box_xyxy[2] - box_xyxy[0]), 0.0) * max(float(box_xyxy[3] - box_xyxy[1]), 0.0)
    union = area + box_area(boxes_xyxy) - inter
    out = np.zeros(len(boxes_xyxy), dtype=np.float32)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _check(xyxy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(xyxy, dtype=np.float32)
    conf = np.asarray(scores, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"xyxy must have shape (N, 4), got {boxes.shape}")
    if conf.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), got {conf.shape}")
    return boxes, conf


def nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    max_detections: int,
    class_id: np.ndarray | None = None,
    agnostic: bool = False,
) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first.

    A box is suppressed when its IoU with a kept box is greater than
    ``iou_threshold``. Unless ``agnostic`` (or ``class_id`` is None) boxes
    only suppress boxes of their own class: each class is shifted by
    ``class_id * (2 * largest |coordinate| + 1)`` so classes never overlap.
    """
    boxes, conf = _check(xyxy, scores)
    if len(boxes) == 0 or max_detections <= 0:
        return np.zeros(0, dtype=np.intp)
    if class_id is not None and not agnostic:
        cls = np.asarray(class_id)
        if cls.shape != conf.shape:
            raise ValueError(f"class_id must have shape {conf.shape}, got {cls.shape}")
        span = 2.0 * float(np.abs(boxes).max()) + 1.0  # boxes may reach below 0
        boxes = boxes + (cls.astype(np.float32) * np.float32(span))[:, None]
    x1, y1, x2, y2 = boxes.T
    area = box_area(boxes)
    order = np.argsort(-conf, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size == 0:
            break
        inter = np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])
        inter_h = np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])
        inter = np.maximum(inter, 0, out=inter) * np.maximum(inter_h, 0, out=inter_h)
        union = area[best] + area[rest] - inter
        # IoU <= threshold, written without a division (union > 0 unless both are empty)
        order = rest[(inter <= iou_threshold * union) | (union <= 0)]
    return np.asarray(keep, dtype=np.intp)


class WeightedBoxes(NamedTuple):
    """Result of :func:`weighted_nms`, best first."""

    xyxy: np.ndarray
    """(K, 4) score-weighted mean box of each cluster."""
    scores: np.ndarray
    """(K,) score of each cluster's best detection."""
    keypoints: np.ndarray | None
    """(K, P, D) score-weighted mean keypoints, or None."""
    best_index: np.ndarray
    """(K,) index of each cluster's best detection in the input."""


def weighted_nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    max_detections: int,
    keypoints: np.ndarray | None = None,
) -> WeightedBoxes:
    """MediaPipe's weighted NMS (``NonMaxSuppressionCalculator``, ``WEIGHTED``).

    Take the best remaining detection; every remaining detection whose IoU
    with it is greater than ``iou_threshold`` (itself included) joins its
    cluster and is removed. The cluster's box and keypoints are the means of
    its members weighted by score; its score is the best member's.
    """
    boxes, conf = _check(xyxy, scores)
    kps = None
    if keypoints is not None:
        kps = np.asarray(keypoints, dtype=np.float32)
        if kps.ndim < 2 or kps.shape[0] != len(boxes):
            raise ValueError(f"keypoints must have shape ({len(boxes)}, ...), got {kps.shape}")
    out_boxes: list[np.ndarray] = []
    out_kps: list[np.ndarray] = []
    out_index: list[int] = []
    order = np.argsort(-conf, kind="stable")
    while order.size and len(out_index) < max_detections:
        best = int(order[0])
        overlap = iou_one_to_many(boxes[best], boxes[order]) > iou_threshold
        overlap[0] = True  # a degenerate (zero-area) best box still claims itself
        members = order[overlap]
        weights = conf[members].astype(np.float64)
        total = float(weights.sum())
        if total > 0:
            weights /= total
        else:
            weights = np.full(len(members), 1.0 / len(members))
        out_boxes.append((boxes[members] * weights[:, None]).sum(axis=0))
        if kps is not None:
            w = weights.reshape((-1,) + (1,) * (kps.ndim - 1))
            out_kps.append((kps[members] * w).sum(axis=0))
        out_index.append(best)
        order = order[~overlap]
    index = np.asarray(out_index, dtype=np.intp)
    merged = np.stack(out_boxes).astype(np.float32) if out_boxes else np.zeros((0, 4), np.float32)
    merged_kps: np.ndarray | None = None
    if kps is not None:
        merged_kps = (
            np.stack(out_kps).astype(np.float32)
            if out_kps
            else np.zeros((0, *kps.shape[1:]), np.float32)
        )
    return WeightedBoxes(merged, conf[index], merged_kps, index)
