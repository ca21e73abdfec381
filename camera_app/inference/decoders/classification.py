"""Image classifiers: one [1, N] score vector (probabilities or logits)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from camera_app.errors import ModelError
from camera_app.inference.types import Decoded, DecodeOptions, InputTransform, ModelInfo
from camera_app.results import Classifications, Detections

_EMPTY = Detections.empty()


class ClassificationDecoder:
    family: ClassVar[str] = "classification"

    def __init__(self, info: ModelInfo, options: DecodeOptions) -> None:
        self.tensor = info.outputs[0]
        self.options = options
        self.num_classes = int(np.prod(self.tensor.shape))
        self.skip_class_ids: tuple[int, ...] = ()
        """Ids never reported (the background class, when labels name it)."""

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        if len(info.outputs) != 1:
            return False
        dims = [d for d in info.outputs[0].shape if d != 1]
        return len(dims) == 1 and dims[0] >= 2

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> ClassificationDecoder:
        if not cls.matches(info):
            raise ModelError(
                f"{info.path}: outputs {info.output_shapes()} are not a classifier's single "
                "[1, classes] score vector"
            )
        return cls(info, options)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        # Dequantise before ranking: raw uint8 sorted by -p wraps around.
        p = self.tensor.dequantize(outputs[0].reshape(-1))
        if p.min() < 0.0 or p.max() > 1.0 + 1e-3:
            e = np.exp(p - p.max())
            p = e / e.sum()
        if self.skip_class_ids:
            p = p.copy()
            p[list(self.skip_class_ids)] = -1.0
        if self.options.classes is not None:
            mask = np.full(p.shape, -1.0, np.float32)
            ids = [c for c in self.options.classes if 0 <= c < len(p)]
            mask[ids] = p[ids]
            p = mask
        k = min(self.options.top_k, len(p))
        top = np.argpartition(-p, k - 1)[:k]
        top = top[np.argsort(-p[top], kind="stable")]
        top = top[p[top] >= 0.0]
        return Decoded(_EMPTY, Classifications(top, p[top]))
