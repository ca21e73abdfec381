"""Pixel formats of the Pi camera's streams and how to turn them into BGR / RGB images.

Facts this module relies on (picamera2 0.3.2x-0.3.36, raspberrypi/picamera2):

* Format names are DRM fourccs, i.e. little-endian words, so the bytes of a
  pixel are the name reversed: ``RGB888`` is stored B,G,R (OpenCV's BGR),
  ``BGR888`` is R,G,B, ``XRGB8888`` is B,G,R,255 and ``XBGR8888`` R,G,B,255
  (picamera2's own ``make_image`` maps them to PIL modes BGR/RGB/BGRX/RGBX).
* ``MappedArray(request, stream, reshape=True, write=True)`` (exported by
  the package) maps the request's dma-buf and, inside its ``with`` block,
  gives ``array``: a view, no copy. For RGB formats it is (h, w, 3|4); with
  padded strides a non-contiguous view of the rows with the padding sliced
  off. ``__exit__`` deletes ``array`` and ends the DMA-BUF sync: the memory
  must not be read afterwards (the camera refills it once the request is
  released). With the base allocator ``Sync`` (``LibcameraAllocator``, and
  every picamera2 before the DMA heap allocator of late 2023) ``__exit__``
  closes the mmap, which raises ``BufferError`` if a view of it is still
  alive. Those older versions also lack ``write=`` (``write=False``: a
  read-only sync).
* ``make_array`` copies the buffer (``make_buffer`` is ``np.array`` of the
  mapping) and, for RGB formats, cuts the stride padding and returns a
  C-contiguous (h, w, 3|4) array. For YUV420 it returns (h*3//2, stride)
  with the padding left in: a Y plane of h rows x stride bytes, then U and V
  planes of h/2 rows x stride/2 bytes each (I420 order). The padding must be
  cut plane by plane; OpenCV then needs ``COLOR_YUV2RGB_I420``
  (``COLOR_YUV420p2RGB`` means YV12, V first, and swaps the chroma).
* OpenCV's I420 conversion is BT.601 limited range, so the YUV lores stream is
  configured with the SMPTE170M colour space (BT.601 limited range) instead of
  the preview's sYCC (full range) or the HD video default Rec709.
* On a Pi 4 the lores stream must be YUV (``configure`` raises "lores stream
  must be YUV"); a Pi 5 can deliver it as RGB, so there it is ``BGR888``
  (bytes R,G,B) and needs no conversion. Lores may not exceed main (a larger
  request is shrunk to fit). Lores has ``preserve_ar=False``: it is main's
  whole field of view resized to the lores size, stretched if the aspect
  ratios differ (map lores x and y to main with separate scales).
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from camera_app.buffers import BufferPool
from camera_app.errors import SourceError, SourceLostError

log = logging.getLogger(__name__)

MAIN_FORMATS = ("RGB888", "BGR888", "XRGB8888", "XBGR8888")
# cvtColor code from each format's memory order to BGR / RGB (None: already there).
TO_BGR = {
    "RGB888": None,
    "BGR888": cv2.COLOR_RGB2BGR,
    "XRGB8888": cv2.COLOR_BGRA2BGR,
    "XBGR8888": cv2.COLOR_RGBA2BGR,
}
XRGB = ("XRGB8888", "XBGR8888")  # 4 bytes a pixel
TO_RGB = {
    "RGB888": cv2.COLOR_BGR2RGB,
    "BGR888": None,
    "XRGB8888": cv2.COLOR_BGRA2RGB,
    "XBGR8888": cv2.COLOR_RGBA2RGB,
}
_PI5_MODEL = re.compile(r"Raspberry Pi (5|500)\b|Compute Module 5\b")


def is_pisp(picamera2_cls: Any, model_path: Path = Path("/proc/device-tree/model")) -> bool:
    """True on a Pi 5 (PiSP ISP), from picamera2's own probe, else the board model."""
    name = getattr(getattr(picamera2_cls, "platform", None), "name", None)
    if name in ("PISP", "VC4"):
        return name == "PISP"
    try:
        model = model_path.read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return False
    return bool(_PI5_MODEL.search(model))


def fit_lores(lores_wh: tuple[int, int], main_wh: tuple[int, int]) -> tuple[int, int]:
    """Shrink lores (keeping its aspect) to fit inside main, and round to even sizes."""
    w, h = lores_wh
    scale = min(Fraction(1), Fraction(main_wh[0], w), Fraction(main_wh[1], h))
    fit_w, fit_h = int(w * scale), int(h * scale)
    if scale < 1:
        log.warning(
            "picamera2: lores %dx%d is larger than main %dx%d; using %dx%d",
            w,
            h,
            *main_wh,
            fit_w,
            fit_h,
        )
    return (max(2, fit_w - fit_w % 2), max(2, fit_h - fit_h % 2))


class I420ToRGB:
    """libcamera YUV420 (I420 with stride padding) -> new HxWx3 RGB array."""

    def __init__(self, size_wh: tuple[int, int], stride: int) -> None:
        self.w, self.h = size_wh
        self.stride = stride
        # Padding-free copy of the planes, reused frame after frame.
        self._packed = None if stride == self.w else np.empty((self.h * 3 // 2, self.w), np.uint8)

    def __call__(self, yuv: np.ndarray) -> np.ndarray:
        w, h, s = self.w, self.h, self.stride
        if yuv.shape != (h * 3 // 2, s):
            raise SourceError(
                f"picamera2: YUV420 lores has shape {yuv.shape}, expected {(h * 3 // 2, s)}"
            )
        packed = self._packed
        if packed is None:
            packed = yuv
        else:
            src, dst = np.ascontiguousarray(yuv).reshape(-1), packed.reshape(-1)
            cw, ch, cs = w // 2, h // 2, s // 2
            packed[:h] = yuv[:h, :w]
            for i in (0, 1):  # U then V: h/2 rows of stride/2 bytes each, after Y
                plane = src[h * s + i * ch * cs : h * s + (i + 1) * ch * cs].reshape(ch, cs)
                dst[h * w + i * ch * cw : h * w + (i + 1) * ch * cw].reshape(ch, cw)[:] = plane[
                    :, :cw
                ]
        return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420)


def reorder(array: np.ndarray, code: int | None) -> np.ndarray:
    """Colour-convert make_array's output; 3-channel swaps in place (it is our copy)."""
    if code is None:
        return np.ascontiguousarray(array) if array.flags.writeable else array.copy()
    if array.shape[-1] == 3 and array.flags.writeable and array.flags.c_contiguous:
        return cv2.cvtColor(array, code, dst=array)
    return cv2.cvtColor(array, code)


def copy_to_bgr(mapped: Any, out: np.ndarray, code: int | None, channels: int) -> str | None:
    """Write a ``MappedArray``'s (h, w, channels) view into ``out`` (h, w, 3) as BGR.

    Returns what is wrong, or None. Keeps no reference to the view once it
    returns or raises (a traceback keeps its frames' locals): ``__exit__`` may
    close the mmap, which raises ``BufferError`` while a view of it is alive.
    """
    view = mapped.array
    try:
        h, w = out.shape[:2]
        shape = None if view is None else view.shape
        if shape != (h, w, channels):
            return f"has shape {shape}, expected {(h, w, channels)}"
        if code is None:
            np.copyto(out, view)
        elif cv2.cvtColor(view, code, dst=out) is not out:
            return f"of shape {shape} was not converted into the {out.shape} buffer"
        return None
    finally:
        del view


class StreamImages:
    """A request's main stream as BGR, and its lores stream as RGB.

    The main image is read through ``MappedArray(..., write=False)`` and
    written in one pass into a buffer from :attr:`pool` (no per-frame
    allocation once warmed up; the pool hands a buffer out again only when
    nothing refers to it). The lores image is make_array's copy, or a new
    array from a colour conversion, so it owns its memory.
    """

    def __init__(
        self,
        name: str,
        mapped_array: Any,
        main_format: str,
        main_size_wh: tuple[int, int],
        lores: dict[str, Any] | None,
    ) -> None:
        self.name = name
        self.main_format = main_format
        self.main_size_wh = main_size_wh
        self.pool = BufferPool()
        self._mapped_array = mapped_array  # picamera2.MappedArray
        self._map_read_only = True  # pass write=False (picamera2 versions that take it)
        self.lores_format: str | None = None if lores is None else lores["format"]
        self.lores_shape: tuple[int, ...] = ()
        self._yuv: I420ToRGB | None = None
        if lores is not None:
            w, h = lores["size"]
            if self.lores_format == "YUV420":
                self._yuv = I420ToRGB((w, h), lores["stride"])
            elif self.lores_format not in TO_RGB:
                raise SourceError(f"{name}: unexpected lores format {self.lores_format}")
            self.lores_shape = (h, w, 3)

    def _map_main(self, request: Any) -> Any:
        """``MappedArray`` of the main stream, read-only where picamera2 allows it."""
        if self._map_read_only:
            try:
                return self._mapped_array(request, "main", write=False)
            except TypeError:  # no ``write`` keyword (older picamera2)
                mapped = self._mapped_array(request, "main")
                self._map_read_only = False  # that was the reason: do not retry it every frame
                return mapped
        return self._mapped_array(request, "main")

    def main_bgr(self, request: Any) -> np.ndarray:
        """The main stream as BGR, copied in one pass from the mapped buffer into the pool."""
        w, h = self.main_size_wh
        fmt = self.main_format
        image = self.pool.get((h, w, 3))
        with self._map_main(request) as mapped:
            problem = copy_to_bgr(mapped, image, TO_BGR[fmt], 4 if fmt in XRGB else 3)
        if problem is not None:
            raise SourceLostError(f"{self.name}: main image {problem}")
        return image

    def lores_rgb(self, request: Any) -> np.ndarray | None:
        if self.lores_format is None:
            return None
        raw = request.make_array("lores")
        lores = self._yuv(raw) if self._yuv is not None else reorder(raw, TO_RGB[self.lores_format])
        if lores.shape != self.lores_shape:
            raise SourceLostError(
                f"{self.name}: lores has shape {lores.shape}, expected {self.lores_shape}"
            )
        return lores
