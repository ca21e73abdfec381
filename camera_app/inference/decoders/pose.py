"""MoveNet single-pose: [1, 1, 17, 3] keypoints as (y, x, score), normalised."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from camera_app.errors import ModelError
from camera_app.inference.types import Decoded, DecodeOptions, InputTransform, ModelInfo
from camera_app.results import Detections

KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
SKELETON = (
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)
KEYPOINT_THRESHOLD = 0.2
"""Keypoints below this score do not count towards the person's box."""


class MoveNetDecoder:
    family: ClassVar[str] = "movenet"

    def __init__(self, info: ModelInfo, options: DecodeOptions) -> None:
        self.tensor = info.outputs[0]
        self.options = options

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        return len(info.outputs) == 1 and tuple(info.outputs[0].shape[-2:]) == (17, 3)

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> MoveNetDecoder:
        if not cls.matches(info):
            raise ModelError(
                f"{info.path}: outputs {info.output_shapes()} are not MoveNet's [1,1,17,3]"
            )
        return cls(info, options)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        kp = self.tensor.dequantize(outputs[0]).reshape(17, 3)
        xy = transform.points_to_frame(kp[:, [1, 0]], normalized=True)
        scores = kp[:, 2]
        person_score = float(scores.mean())
        if person_score < min(self.options.threshold, KEYPOINT_THRESHOLD):
            return Decoded(Detections.empty())
        seen = scores >= KEYPOINT_THRESHOLD
        pts = xy[seen] if seen.any() else xy
        w, h = transform.frame_wh
        box = np.array(
            [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], np.float32
        )
        box[0::2] = box[0::2].clip(0, w)
        box[1::2] = box[1::2].clip(0, h)
        keypoints = np.concatenate([xy, scores[:, None]], axis=1)[None]
        return Decoded(
            Detections(box[None], np.array([person_score]), np.zeros(1, np.int32), keypoints)
        )
