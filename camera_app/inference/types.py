"""Types shared by the model, the preprocessor and the decoders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import numpy as np

from camera_app.results import Classifications, Detections, Embedding, SegmentationMask


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One input or output tensor as the interpreter reports it."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype.kind in "iu"

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """float32 values of a raw output (a plain cast when not quantised)."""
        if self.quantized:
            return (raw.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale)
        return raw.astype(np.float32, copy=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype.name,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a .tflite file declares, read once at load time."""

    path: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    signatures: dict[str, Any] = field(default_factory=dict)

    @property
    def input(self) -> TensorInfo:
        return self.inputs[0]

    @property
    def input_size_wh(self) -> tuple[int, int]:
        """Width and height of an NHWC (or NCHW) image input."""
        shape = self.input.shape
        if len(shape) != 4:
            raise ValueError(f"input is not an image batch: shape {list(shape)}")
        if shape[3] in (1, 3):
            return (int(shape[2]), int(shape[1]))
        return (int(shape[3]), int(shape[2]))

    def output_shapes(self) -> str:
        return ", ".join(f"{o.name or '?'} {list(o.shape)} {o.dtype.name}" for o in self.outputs)


@dataclass(frozen=True, slots=True)
class InputTransform:
    """Maps model-input pixels back to frame pixels (undoing a letterbox).

    ``frame_x = (model_x - pad_x) / scale_x``; for a stretch the pads are 0
    and the two scales differ, for a letterbox the scales are equal.
    """

    model_wh: tuple[int, int]
    frame_wh: tuple[int, int]
    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    @classmethod
    def stretch(cls, model_wh: tuple[int, int], frame_wh: tuple[int, int]) -> InputTransform:
        return cls(model_wh, frame_wh, model_wh[0] / frame_wh[0], model_wh[1] / frame_wh[1])

    @classmethod
    def letterbox(cls, model_wh: tuple[int, int], frame_wh: tuple[int, int]) -> InputTransform:
        s = min(model_wh[0] / frame_wh[0], model_wh[1] / frame_wh[1])
        new_w = round(frame_wh[0] * s)
        new_h = round(frame_wh[1] * s)
        return cls(model_wh, frame_wh, s, s, (model_wh[0] - new_w) // 2, (model_wh[1] - new_h) // 2)

    @property
    def content_wh(self) -> tuple[int, int]:
        """Size of the resized image inside the model input (no padding)."""
        return (round(self.frame_wh[0] * self.scale_x), round(self.frame_wh[1] * self.scale_y))

    def points_to_frame(self, xy: np.ndarray, normalized: bool = False) -> np.ndarray:
        """(..., 2) x, y in model pixels (or normalised to [0, 1]) to frame pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        out = np.empty_like(xy)
        mx = xy[..., 0] * self.model_wh[0] if normalized else xy[..., 0]
        my = xy[..., 1] * self.model_wh[1] if normalized else xy[..., 1]
        out[..., 0] = (mx - self.pad_x) / self.scale_x
        out[..., 1] = (my - self.pad_y) / self.scale_y
        return out

    def boxes_to_frame(
        self, xyxy: np.ndarray, normalized: bool = False, clip: bool = True
    ) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2 in model pixels (or normalised) to frame pixels."""
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        out = self.points_to_frame(xyxy.reshape(-1, 2, 2), normalized).reshape(-1, 4)
        if clip:
            np.clip(out[:, 0::2], 0, self.frame_wh[0], out=out[:, 0::2])
            np.clip(out[:, 1::2], 0, self.frame_wh[1], out=out[:, 1::2])
        return out


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Decoder settings; every field can be set from the config file."""

    threshold: float = 0.5
    """Minimum score for a detection (or keypoint) to be reported."""
    iou_threshold: float = 0.45
    max_detections: int = 100
    class_agnostic_nms: bool = False
    top_k: int = 5
    """Classifiers: how many classes to report."""
    box_format: Literal["auto", "normalized", "pixels"] = "auto"
    """YOLO exports: box coordinates normalised to [0, 1] or in input pixels."""
    classes: tuple[int, ...] | None = None
    """Only report these class ids (None: all)."""


class Decoded(NamedTuple):
    detections: Detections
    classes: Classifications | None = None
    mask: SegmentationMask | None = None
    embedding: Embedding | None = None


class Decoder(Protocol):
    """Turns a model's raw outputs into typed results in frame pixels.

    Built once per model by ``from_model`` (which raises ``ModelError`` when
    the outputs do not fit this family); ``decode`` runs every frame on the
    outputs in the interpreter's output order, as returned by ``get_tensor``.
    """

    family: ClassVar[str]

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        """True when the model's outputs look like this family's."""
        ...

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> Decoder: ...

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded: ...
