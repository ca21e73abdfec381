"""Fake of ``picamera2.request``: completed requests and their pixel buffers.

Each buffer is rendered from a known scene (left half ``FAKE.scene_left_rgb``,
right half ``FAKE.scene_right_rgb``, given in true RGB) and laid out exactly as
libcamera lays out that format in memory:

==========  =========================================================
format      bytes of one pixel in memory (DRM fourcc, little-endian)
==========  =========================================================
RGB888      B, G, R
BGR888      R, G, B
XRGB8888    B, G, R, 255
XBGR8888    R, G, B, 255
YUV420      planar I420: Y plane (h x stride), then U (h/2 x stride/2),
            then V (h/2 x stride/2)
YVU420      planar YV12: Y, then V, then U
==========  =========================================================

Rows are padded to ``stride`` bytes with 0xA5 garbage. YUV is encoded with
the configuration's colour space (sYCC: BT.601 full range; SMPTE170M: BT.601
limited range; Rec709: BT.709 limited range). ``make_buffer`` returns a fresh
copy of the buffer (as the real one does: ``np.array`` of the mapped memory);
``make_array`` reshapes it like the real ``Helpers.make_array``: RGB formats
to (h, w, 3|4) with the stride padding cut off, YUV420/YVU420 to
(h*3//2, stride) with the padding left in.

``MappedArray`` mirrors the real one (``picamera2.request.MappedArray``): a
context manager whose ``array`` is a view of the mapped buffer, no copy.
With ``reshape`` (the default) RGB formats become (h, w, 3|4), for padded
strides a non-contiguous view of the rows with the padding sliced off; YUV420
and YVU420 become (h*3//2, stride). ``__exit__`` deletes ``array`` (reading it
afterwards raises ``AttributeError``, as the real one does). Where the fake
differs on purpose, it is stricter: each mapping is a private copy of the
rendered buffer, read-only when ``write=False`` (the real mapping is always
writable memory, and shared by every mapping of that request), and overwritten
with ``GARBAGE_BYTE`` on ``__exit__``, as the camera would refill the real
buffer once the request is back in its queue, so a caller that kept a view
past the ``with`` block sees wrong pixels. (Writes through one mapping are
therefore not seen by ``make_buffer`` or another mapping; camera_app does not
write.)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ._libcamera import ColorSpace
from .fake import FAKE

if TYPE_CHECKING:
    from .picamera2 import Picamera2

PAD_BYTE = 0xA5
GARBAGE_BYTE = 0x3C
"""What a mapping holds once its ``with`` block has ended (see the module docstring)."""
# For each packed RGB format: which true-RGB channel sits in each byte (None = 255).
RGB_LAYOUTS: dict[str, tuple[int | None, ...]] = {
    "RGB888": (2, 1, 0),
    "BGR888": (0, 1, 2),
    "XRGB8888": (2, 1, 0, None),
    "XBGR8888": (0, 1, 2, None),
}
YUV_PLANAR = ("YUV420", "YVU420")
_KR_KB = {"rec601": (0.299, 0.114), "rec709": (0.2126, 0.0722)}
_cache: dict[tuple[Any, ...], np.ndarray] = {}


def scene_rgb(size_wh: tuple[int, int]) -> np.ndarray:
    """The true-RGB scene at this size: HxWx3 uint8."""
    w, h = size_wh
    img = np.empty((h, w, 3), np.uint8)
    img[:, : w // 2] = FAKE.scene_left_rgb
    img[:, w // 2 :] = FAKE.scene_right_rgb
    return img


def rgb_to_ycbcr(rgb: np.ndarray, colour_space: ColorSpace) -> tuple[np.ndarray, ...]:
    """Y'CbCr planes (float, 8-bit scale) of an R'G'B' image."""
    kr, kb = _KR_KB[colour_space.matrix]
    e = rgb.astype(np.float64) / 255.0
    y = kr * e[..., 0] + (1.0 - kr - kb) * e[..., 1] + kb * e[..., 2]
    cb = (e[..., 2] - y) / (2.0 * (1.0 - kb))
    cr = (e[..., 0] - y) / (2.0 * (1.0 - kr))
    if colour_space.full_range:
        return 255.0 * y, 128.0 + 255.0 * cb, 128.0 + 255.0 * cr
    return 16.0 + 219.0 * y, 128.0 + 224.0 * cb, 128.0 + 224.0 * cr


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def render_buffer(stream: dict[str, Any], colour_space: ColorSpace) -> np.ndarray:
    """The flat bytes libcamera would hand over for this stream configuration."""
    fmt, (w, h), stride = stream["format"], stream["size"], stream["stride"]
    key = (fmt, w, h, stride, colour_space.name, FAKE.scene_left_rgb, FAKE.scene_right_rgb)
    if key in _cache:
        return _cache[key]
    rgb = scene_rgb((w, h))
    if fmt in RGB_LAYOUTS:
        layout = RGB_LAYOUTS[fmt]
        px = np.empty((h, w, len(layout)), np.uint8)
        for i, channel in enumerate(layout):
            px[..., i] = 255 if channel is None else rgb[..., channel]
        buf = np.full((h, stride), PAD_BYTE, np.uint8)
        buf[:, : w * len(layout)] = px.reshape(h, -1)
        out = buf.reshape(-1)
    elif fmt in YUV_PLANAR:
        y, cb, cr = rgb_to_ycbcr(rgb, colour_space)
        # 4:2:0: one chroma sample per 2x2 block, the mean of the four.
        cb = cb.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        cr = cr.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        y_plane = np.full((h, stride), PAD_BYTE, np.uint8)
        y_plane[:, :w] = _u8(y)
        u_plane = np.full((h // 2, stride // 2), PAD_BYTE, np.uint8)
        u_plane[:, : w // 2] = _u8(cb)
        v_plane = np.full((h // 2, stride // 2), PAD_BYTE, np.uint8)
        v_plane[:, : w // 2] = _u8(cr)
        planes = (y_plane, u_plane, v_plane) if fmt == "YUV420" else (y_plane, v_plane, u_plane)
        out = np.concatenate([p.reshape(-1) for p in planes])
    else:
        raise NotImplementedError(f"the fake cannot render format {fmt}")
    assert out.size == stream["framesize"], (out.size, stream)
    out.flags.writeable = False
    _cache[key] = out
    return out


def make_array_from_buffer(buffer: np.ndarray, stream: dict[str, Any]) -> np.ndarray:
    """What the real ``Helpers.make_array`` does with a flat buffer."""
    fmt, (w, h), stride = stream["format"], stream["size"], stream["stride"]
    if fmt in RGB_LAYOUTS:
        bpp = len(RGB_LAYOUTS[fmt])
        rows = buffer.reshape(h, stride)
        if stride != w * bpp:
            rows = np.ascontiguousarray(rows[:, : w * bpp])
        return rows.reshape(h, w, bpp)
    if fmt in YUV_PLANAR:
        return buffer.reshape(h * 3 // 2, stride)
    raise RuntimeError("Format " + fmt + " not supported")


class CompletedRequest:
    """One frame's buffers, held until ``release()`` hands them back to the camera."""

    def __init__(self, picam2: Picamera2, sequence: int) -> None:
        self.picam2 = picam2
        self.sequence = sequence
        """Fake only: the frame number."""
        self.ref_count = 1
        self.lock = picam2.request_lock
        self.stop_count = picam2.stop_count
        assert picam2.camera_config is not None
        self.config: dict[str, Any] | None = dict(picam2.camera_config)
        self.mappings: list[tuple[str, bool]] = []
        """Fake only: (stream, write) of each ``MappedArray`` entered on this request."""
        self.open_mappings = 0
        """Fake only: ``MappedArray`` blocks entered and not yet exited."""
        self._metadata = {
            "SensorTimestamp": time.monotonic_ns(),  # CLOCK_MONOTONIC, like the real one
            "ExposureTime": 9995,
            "FrameDuration": picam2.frame_duration_us(),
            "AnalogueGain": 2.0,
            "DigitalGain": 1.0,
            "ColourTemperature": 4800,
            "Lux": 312.5,
            "ScalerCrop": (0, 0, 4608, 2592),
        }
        with FAKE.lock:
            FAKE.requests.append(self)

    def acquire(self) -> None:
        with self.lock:
            if self.ref_count == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self.ref_count += 1

    def release(self) -> None:
        with self.lock:
            self.ref_count -= 1
            if self.ref_count < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self.ref_count > 0:
                return
            self.config = None
        self.picam2._buffer_returned()

    def _stream(self, name: str) -> dict[str, Any]:
        if self.config is None:
            # The real one fails with an AttributeError on its cleared stream map.
            raise RuntimeError("CompletedRequest: request used after release()")
        stream = self.config.get(name)
        if not isinstance(stream, dict):
            raise RuntimeError(f"Stream {name!r} is not defined")
        return stream

    def make_buffer(self, name: str) -> np.ndarray:
        stream = self._stream(name)
        assert self.config is not None
        return np.array(render_buffer(stream, self.config["colour_space"]), dtype=np.uint8)

    def make_array(self, name: str) -> np.ndarray:
        if FAKE.make_array_error is not None:
            raise FAKE.make_array_error
        return make_array_from_buffer(self.make_buffer(name), self._stream(name))

    def get_metadata(self) -> dict[str, Any]:
        if self.config is None:
            raise RuntimeError("CompletedRequest: request used after release()")
        return dict(self._metadata)


class MappedArray:
    """A stream's buffer as a numpy view while the ``with`` block runs (no copy)."""

    def __init__(
        self, request: CompletedRequest, stream: str, reshape: bool = True, write: bool = True
    ) -> None:
        request._stream(stream)  # a released request or unknown stream fails here, as for real
        self.__request = request
        self.__stream = stream
        self.__reshape = reshape
        self.__write = write
        self.__mapping: np.ndarray | None = None
        self.__array: np.ndarray | None = None

    def __enter__(self) -> MappedArray:
        request = self.__request
        config = request._stream(self.__stream)
        assert request.config is not None
        mapping = np.array(render_buffer(config, request.config["colour_space"]), dtype=np.uint8)
        self.__mapping = mapping
        array = mapping.view()
        array.flags.writeable = self.__write
        if self.__reshape:
            fmt, (w, h), stride = config["format"], config["size"], config["stride"]
            if fmt in RGB_LAYOUTS:
                bpp = len(RGB_LAYOUTS[fmt])
                if stride != w * bpp:
                    array = array.reshape((h, stride))[:, : w * bpp]
                array = array.reshape((h, w, bpp))
            elif fmt in YUV_PLANAR:
                array = array.reshape((h * 3 // 2, stride))
            else:
                raise RuntimeError("Format " + fmt + " not supported")
        self.__array = array
        with request.lock:
            request.mappings.append((self.__stream, self.__write))
            request.open_mappings += 1
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, exc_traceback: Any) -> None:
        if self.__array is not None:
            del self.__array
        if self.__mapping is not None:
            self.__mapping.fill(GARBAGE_BYTE)
            self.__mapping = None
            with self.__request.lock:
                self.__request.open_mappings -= 1

    @property
    def array(self) -> np.ndarray | None:
        return self.__array
