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
        # The table as cv2.LUT takes it for this many channels (made once).
        self._lut_channels = (
            None
            if self.lut is None
            else np.ascontiguousarray(self.lut[..., :1])
            if color == "GRAY"
            else self.lut
        )
        self._sizes: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._geom: tuple[InputTransform, tuple[int, int], tuple[int, int]]
        self._content: np.ndarray | None = None

    def transform_for(self, frame_wh: tuple[int, int]) -> InputTransform:
        """How model-input pixels map back to a frame of ``frame_wh``."""
        return self._geometry(frame_wh, frame_wh)[0]

    def _geometry(
        self, image_wh: tuple[int, int], frame_wh: tuple[int, int]
    ) -> tuple[InputTransform, tuple[int, int], tuple[int, int]]:
        """The transform reported for ``frame_wh``, and where an image of
        ``image_wh`` goes in the input (content size, padding): computed once
        per pair of sizes, with the letterbox buffers sized to match."""
        if (image_wh, frame_wh) != self._sizes:
            make = (
                InputTransform.letterbox if self.resize == "letterbox" else InputTransform.stretch
            )
            t = make(self.size_wh, frame_wh)
            # picamera2's lores: the same field of view at another size.
            t_img = t if image_wh == frame_wh else make(self.size_wh, image_wh)
            if self.resize == "letterbox":
                cw, ch = t_img.content_wh
                self._content = np.empty((ch, cw, 3), np.uint8)
                self._resized[...] = self.pad_value
            self._sizes = (image_wh, frame_wh)
            self._geom = (t, t_img.content_wh, (int(t_img.pad_x), int(t_img.pad_y)))
        return self._geom

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
        t, content_wh, pad = self._geometry((iw, ih), frame_wh or (iw, ih))
        w, h = self.size_wh
        if self.resize == "letterbox":
            cw, ch = content_wh
            assert self._content is not None
            cv2.resize(image, (cw, ch), dst=self._content, interpolation=self.interpolation)
            px, py = pad
            self._resized[py : py + ch, px : px + cw] = self._content
        elif (iw, ih) == (w, h):
            np.copyto(self._resized, image)
        else:
            cv2.resize(image, (w, h), dst=self._resized, interpolation=self.interpolation)
        target = out if self._staged is None else self._staged
        self._convert_color(self._resized, order, target)
        if self._lut_channels is not None and self._staged is not None:
            cv2.LUT(self._staged, self._lut_channels, dst=out)
        return t

    def _convert_color(self, src: np.ndarray, order: ChannelOrder, dst: np.ndarray) -> None:
        if self.color == "GRAY":
            code = cv2.COLOR_BGR2GRAY if order == "BGR" else cv2.COLOR_RGB2GRAY
            cv2.cvtColor(src, code, dst=dst.reshape(dst.shape[0], dst.shape[1]))
        elif self.color == order:
            np.copyto(dst, src)
        else:
            cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=dst)  # the swap is symmetric
