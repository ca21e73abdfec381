"""Boxes, their labels (with track ids) and keypoints."""

from __future__ import annotations

import cv2
import numpy as np

from camera_app.annotators.base import color_of, put_text, text_scale
from camera_app.inference.decoders.pose import KEYPOINT_THRESHOLD, SKELETON
from camera_app.results import FrameResult


class BoxAnnotator:
    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        _, thick = text_scale(scene)
        det = result.detections
        for i in range(len(det)):
            x1, y1, x2, y2 = (round(float(v) * scale_xy) for v in det.xyxy[i])
            cv2.rectangle(scene, (x1, y1), (x2, y2), color_of(int(det.class_id[i])), thick)


class LabelAnnotator:
    """``person #3 0.82`` above each box (``#3``: the tracker's id, once confirmed)."""

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        scale, _ = text_scale(scene)
        det, labels = result.detections, result.labels
        tid = det.tracker_id
        for i in range(len(det)):
            x1, y1 = (round(float(v) * scale_xy) for v in det.xyxy[i, :2])
            cid = int(det.class_id[i])
            name = labels.name(cid) if labels is not None else None
            track = f" #{int(tid[i])}" if tid is not None and tid[i] >= 0 else ""
            text = f"{name or cid}{track} {det.confidence[i]:.2f}"
            put_text(scene, text, (x1, y1), scale * 0.6, (255, 255, 255), color_of(cid))


class KeypointAnnotator:
    """Keypoints, and the skeleton for 17-point (COCO/MoveNet) poses."""

    def annotate(self, scene: np.ndarray, result: FrameResult, scale_xy: float = 1.0) -> None:
        det = result.detections
        if det.keypoints is None:
            return
        _, thick = text_scale(scene)
        factor = np.array([scale_xy, scale_xy, 1.0], np.float32)
        for i in range(len(det)):
            kp = det.keypoints[i] * factor
            if len(kp) == 17:
                for a, b in SKELETON:
                    if kp[a, 2] >= KEYPOINT_THRESHOLD and kp[b, 2] >= KEYPOINT_THRESHOLD:
                        cv2.line(
                            scene,
                            (int(kp[a, 0]), int(kp[a, 1])),
                            (int(kp[b, 0]), int(kp[b, 1])),
                            (0, 255, 255),
                            thick,
                            cv2.LINE_AA,
                        )
            for x, y, s in kp:
                if s >= KEYPOINT_THRESHOLD:
                    cv2.circle(scene, (int(x), int(y)), thick + 2, (0, 0, 255), cv2.FILLED)
