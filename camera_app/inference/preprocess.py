"""Frame -> input tensor: resize, colour order, cast, written in place.

Every buffer is allocated once per (model, frame size); a frame costs one
resize, at most one colour conversion and at most one table look-up, the
last two writing straight into the interpreter's input tensor.

The cast to the input dtype goes through a 256-entry look-up table per
channel: ``q = round(((p - mean) / std) / scale + zero_point)`` for
quantised inputs, ``(p - mean) / std`` for float32. uint8 inputs take raw
pixels unless a normalisation is set explicitly, which is how quantised
vision models are trained to be fed (their input quantisation *is* the
normalisation: SSD's 1/128 and 128 maps pixels to [-1, 1]).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from camera_app.errors import ModelError
from camera_app.frames import ChannelOrder
from camera_app.inference.types import InputTransform, TensorInfo

log = logging.getLogger(__name__)

ResizeMode = Literal["stretch", "letterbox"]
ColorMode = Literal["RGB", "BGR", "GRAY"]

_INTERPOLATION = {
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "nearest": cv2.INTER_NEAREST,
}


@dataclass(frozen=True, slots=True)
class PreprocessOptions:
    """How frames become input tensors; None fields take the family default."""

    color: ColorMode = "RGB"
    resize: ResizeMode | None = None
    pad_value: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    interpolation: Literal["linear", "area", "nearest"] = "linear"


def _rgb3(value: tuple[float, ...] | float) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,))
    return np.array(arr, dtype=np.float64)


def build_lut(
    tensor: TensorInfo, mean: tuple[float, ...], std: tuple[float, ...], raw_uint8: bool
) -> np.ndarray | None:
    """A (1, 256, 3) table from pixel value to input value, or None for identity."""
    dtype = tensor.dtype
    if dtype == np.uint8 and raw_uint8:
        return None
    p = np.arange(256, dtype=np.float64)[:, None]
    real = (p - _rgb3(mean)) / _rgb3(std)
    if dtype == np.float32:
        return real.astype(np.float32).reshape(1, 256, 3)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if tensor.quantized:
            q = np.round(real / tensor.scale + tensor.zero_point)
        else:
            q = np.round(p * np.ones(3))  # unquantised integer input: raw pixels
        return np.clip(q, info.min, info.max).astype(dtype).reshape(1, 256, 3)
    raise ModelError(f"input tensor {tensor.name!r}: unsupported dtype {dtype.name}")


class Preprocessor:
    """Writes frames into one input tensor (NHWC, batch 1)."""

    def __init__(
        self,
        tensor: TensorInfo,
        resize: ResizeMode,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        color: ColorMode = "RGB",
        pad_value: int = 0,
        interpolation: str = "linear",
        raw_uint8: bool = True,
    ) -> None:
        shape = tensor.shape
        if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
            raise ModelError(
                f"input tensor {tensor.name!r} has shape {list(shape)}; expected an image "
                "[1, height, width, 3] (NHWC)"
            )
        if (shape[3] == 1) != (color == "GRAY"):
            color = "GRAY" if shape[3] == 1 else "RGB"
        self.tensor = tensor
        self.size_wh = (int(shape[2]), int(shape[1]))
        self.resize = resize
        self.color = color
        self.pad_value = int(pad_value)
        self.interpolation = _INTERPOLATION[interpolation]
        self.lut = build_lut(tensor, mean, std, raw_uint8)
        channels = 1 if color == "GRAY" else 3
        w, h = self.size_wh
        # The model-size image in the model's colour order, before the cast;
        # only needed when the cast is not the identity.
        self._staged = np.empty((h, w, channels), np.uint8) if self.lut is not None else None
        self._resized = np.full((h, w, 3), self.pad_value, np.uint8)
        self._transform: InputTransform | None = None
        self._frame_wh: tuple[int, int] | None = None
        self._content: np.ndarray | None = None

    def transform_for(self, frame_wh: tuple[int, int]) -> InputTransform:
        if frame_wh != self._frame_wh:
            self._frame_wh = frame_wh
            if self.resize == "letterbox":
                t = InputTransform.letterbox(self.size_wh, frame_wh)
                cw, ch = t.content_wh
                self._content = np.empty((ch, cw, 3), np.uint8)
                self._resized[...] = self.pad_value
            else:
                t = InputTransform.stretch(self.size_wh, frame_wh)
                self._content = None
            self._transform = t
        assert self._transform is not None
        return self._transform

    def __call__(
        self,
        image: np.ndarray,
        order: ChannelOrder,
        out: np.ndarray,
        frame_wh: tuple[int, int] | None = None,
    ) -> InputTransform:
        """Preprocess ``image`` into ``out`` (the [H, W, C] input view).

        ``frame_wh`` is the size results are reported in when ``image`` is a
        scaled copy of the frame (picamera2's lores stream).
        """
        ih, iw = image.shape[:2]
        t = self.transform_for(frame_wh or (iw, ih))
        if frame_wh is not None and frame_wh != (iw, ih):
            # Same field of view at another size: resize from this image.
            t_img = (
                InputTransform.letterbox(self.size_wh, (iw, ih))
                if self.resize == "letterbox"
                else InputTransform.stretch(self.size_wh, (iw, ih))
            )
            content_wh = t_img.content_wh
            pad = (int(t_img.pad_x), int(t_img.pad_y))
        else:
            content_wh = t.content_wh
            pad = (int(t.pad_x), int(t.pad_y))
        w, h = self.size_wh
        if self.resize == "letterbox":
            cw, ch = content_wh
            if self._content is None or self._content.shape[:2] != (ch, cw):
                self._content = np.empty((ch, cw, 3), np.uint8)
                self._resized[...] = self.pad_value
            cv2.resize(image, (cw, ch), dst=self._content, interpolation=self.interpolation)
            px, py = pad
            self._resized[py : py + ch, px : px + cw] = self._content
        elif (iw, ih) == (w, h):
            np.copyto(self._resized, image)
        else:
            cv2.resize(image, (w, h), dst=self._resized, interpolation=self.interpolation)
        target = out if self._staged is None else self._staged
        self._convert_color(self._resized, order, target)
        if self.lut is not None and self._staged is not None:
            if self.color == "GRAY":
                cv2.LUT(self._staged, np.ascontiguousarray(self.lut[..., :1]), dst=out)
            else:
                cv2.LUT(self._staged, self.lut, dst=out)
        return t

    def _convert_color(self, src: np.ndarray, order: ChannelOrder, dst: np.ndarray) -> None:
        if self.color == "GRAY":
            code = cv2.COLOR_BGR2GRAY if order == "BGR" else cv2.COLOR_RGB2GRAY
            cv2.cvtColor(src, code, dst=dst.reshape(dst.shape[0], dst.shape[1]))
        elif self.color == order:
            np.copyto(dst, src)
        else:
            cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=dst)  # the swap is symmetric
