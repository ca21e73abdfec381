"""Feature extractors: one vector per image (an embedding), not class scores.

Coral's ``mobilenet_v1_1.0_224_quant_embedding_extractor.tflite`` ends at
the pooled feature map: output ``[1, 1, 1, 1024]`` uint8, ReLU6 activations
(scale 6/255, zero point 0). Read as a classifier it gives a confident
looking top-5 of meaningless "classes"; this family reports the vector.

How it is told from a classifier (:func:`looks_like_embedding`), on the one
output tensor:

* shape: one vector along the last axis, every other dimension 1
  (``[1, N]`` or ``[1, 1, 1, N]``), N >= 2;
* quantised outputs, by the range the quantisation can represent:
  probabilities stop at 1 and logits go negative, while ReLU/ReLU6 features
  start at 0 and reach well above 1 (ReLU6: ``scale * 255 = 6``). So a
  non-negative range whose top exceeds 1.5 is an embedding, whatever the
  shape;
* float outputs carry no range: only the 4-D shape of a pooled feature map
  (``[1, 1, 1, N]``) says embedding, except N = 1000 or 1001 (ImageNet class
  counts: an unsqueezed classifier head).

Limits: a float ``[1, N]`` embedding (a FaceNet-style ``[1, 128]``, a TF Hub
"feature vector" ``[1, 1280]``) and an L2-normalised or int8 embedding whose
range goes negative look like a classifier; a float ``[1, 1, 1, N]``
classifier head looks like an embedding. ``--family embedding`` or
``--family classification`` (``model.family``) settles it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from camera_app import results
from camera_app.errors import ModelError
from camera_app.inference.types import (
    Decoded,
    DecodeOptions,
    InputTransform,
    ModelInfo,
    TensorInfo,
)
from camera_app.results import Detections

_EMPTY = Detections.empty()
MIN_FEATURE_MAX = 1.5
"""A quantised output whose range is >= 0 and tops out above this is
activations, not probabilities (at most 1)."""
IMAGENET_CLASS_COUNTS = (1000, 1001)


def vector_size(tensor: TensorInfo) -> int | None:
    """N when the tensor is one vector along its last axis, else None."""
    shape = tensor.shape
    if not shape or shape[-1] < 2 or any(d != 1 for d in shape[:-1]):
        return None
    return int(shape[-1])


def quantized_range(tensor: TensorInfo) -> tuple[float, float]:
    """The lowest and highest value a quantised tensor can represent."""
    limits = np.iinfo(tensor.dtype)
    return (
        (limits.min - tensor.zero_point) * tensor.scale,
        (limits.max - tensor.zero_point) * tensor.scale,
    )


def looks_like_embedding(tensor: TensorInfo) -> bool:
    """The heuristic in the module docstring."""
    n = vector_size(tensor)
    if n is None:
        return False
    if tensor.quantized:
        low, high = quantized_range(tensor)
        return low >= -1e-6 and high > MIN_FEATURE_MAX
    if tensor.dtype.kind != "f":
        return False
    return len(tensor.shape) == 4 and n not in IMAGENET_CLASS_COUNTS


def describe(tensor: TensorInfo) -> str:
    """``[1, 1, 1, 1024] uint8, values 0..6``: for messages."""
    text = f"{list(tensor.shape)} {tensor.dtype.name}"
    if tensor.quantized:
        low, high = quantized_range(tensor)
        text += f", values {low:g}..{high:.3g}"
    return text


class EmbeddingDecoder:
    family: ClassVar[str] = "embedding"

    def __init__(self, info: ModelInfo, options: DecodeOptions) -> None:
        self.tensor = info.outputs[0]
        self.options = options
        size = vector_size(self.tensor)
        assert size is not None
        self.size = size

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        return len(info.outputs) == 1 and looks_like_embedding(info.outputs[0])

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> EmbeddingDecoder:
        if len(info.outputs) != 1 or vector_size(info.outputs[0]) is None:
            raise ModelError(
                f"{info.path}: outputs {info.output_shapes()} are not one embedding vector "
                "([1, N] or [1, 1, 1, N])"
            )
        return cls(info, options)

    def vector(self, raw: np.ndarray) -> np.ndarray:
        """The embedding as float32 (N,): dequantised, not normalised."""
        return self.tensor.dequantize(np.asarray(raw).reshape(-1)).astype(np.float32, copy=True)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        return Decoded(_EMPTY, embedding=results.Embedding(self.vector(outputs[0])))
