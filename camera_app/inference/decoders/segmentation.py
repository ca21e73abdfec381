"""Semantic segmentation: [1, H, W] class ids (argmax in the model) or
[1, H, W, C] per-class logits/probabilities (argmax here)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from camera_app.errors import ModelError
from camera_app.inference.types import Decoded, DecodeOptions, InputTransform, ModelInfo
from camera_app.results import Detections, SegmentationMask

_EMPTY = Detections.empty()


class SegmentationDecoder:
    family: ClassVar[str] = "segmentation"

    def __init__(self, info: ModelInfo, options: DecodeOptions) -> None:
        self.tensor = info.outputs[0]
        self.options = options
        self.logits = len(self.tensor.shape) == 4
        self.num_classes = int(self.tensor.shape[-1]) if self.logits else None

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        if len(info.outputs) != 1:
            return False
        s = info.outputs[0].shape
        in_w, in_h = info.input_size_wh
        spatial = s[1:3] if len(s) in (3, 4) else ()
        return (
            len(spatial) == 2
            and spatial[0] >= in_h // 8
            and spatial[1] >= in_w // 8
            and (len(s) == 3 or s[3] <= 1024)
        )

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> SegmentationDecoder:
        if not cls.matches(info):
            raise ModelError(
                f"{info.path}: outputs {info.output_shapes()} are not a segmentation map "
                "([1,H,W] class ids or [1,H,W,C] scores)"
            )
        return cls(info, options)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        out = outputs[0][0]
        class_map = np.argmax(out, axis=-1) if self.logits else out
        h, w = class_map.shape
        mw, mh = transform.model_wh
        # Crop the letterbox padding (in output-map cells) so the map spans the frame.
        sx, sy = w / mw, h / mh
        cw, ch = transform.content_wh
        x0, y0 = round(transform.pad_x * sx), round(transform.pad_y * sy)
        x1, y1 = x0 + max(1, round(cw * sx)), y0 + max(1, round(ch * sy))
        cropped = class_map[y0:y1, x0:x1].astype(np.uint8)
        return Decoded(_EMPTY, mask=SegmentationMask(cropped, transform.frame_wh))
