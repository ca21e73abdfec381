"""Raspberry Pi camera through picamera2 (libcamera), on Pi 4 (VC4) and Pi 5 (PiSP).

picamera2 comes from apt (``python3-picamera2``); a venv sees it only when
made with ``--system-site-packages``. It is imported in ``start()``.

Facts this module relies on (picamera2 0.3.2x, raspberrypi/picamera2):

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
* ``capture_request(wait=False)`` returns a job; ``wait(job, timeout)`` raises
  ``TimeoutError`` without cancelling it, so a late frame would be handed to
  nobody. The job's ``signal_function`` releases such late requests, and
  ``cancel_all_and_flush()`` (2024+) drops queued jobs on timeout and stop.
* ``SensorTimestamp`` is on CLOCK_MONOTONIC (picamera2's ``capture_request(
  flush=True)`` compares it with ``time.monotonic_ns()``), the clock of
  ``Frame.timestamp_ns``; it is used when plausible, else the time of return.

Buffers: every request is released before ``read()`` returns. The main image
is read through ``MappedArray(..., write=False)`` and written in one pass
(``np.copyto`` or ``cv2.cvtColor`` into ``dst``), inside the ``with`` block,
into a buffer from a :class:`~camera_app.buffers.BufferPool`: no per-frame
allocation once warmed up. ``Frame.image`` is that pooled buffer; the pipeline
keeps frames across threads, and the pool hands a buffer out again only when
nothing refers to it any more (so a held frame is never overwritten). The
lores image is still make_array's copy, or a new array from a colour
conversion, so ``Frame.lores`` owns its memory; only the YUV staging buffer
(padding removed) is reused.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
import time
from concurrent.futures import CancelledError
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from camera_app.buffers import BufferPool
from camera_app.errors import SourceError, SourceLostError
from camera_app.frames import Frame, SourceInfo
from camera_app.sources.base import BaseSource

log = logging.getLogger(__name__)

MAIN_FORMATS = ("RGB888", "BGR888", "XRGB8888", "XBGR8888")
# cvtColor code from each format's memory order to BGR / RGB (None: already there).
_TO_BGR = {
    "RGB888": None,
    "BGR888": cv2.COLOR_RGB2BGR,
    "XRGB8888": cv2.COLOR_BGRA2BGR,
    "XBGR8888": cv2.COLOR_RGBA2BGR,
}
_XRGB = ("XRGB8888", "XBGR8888")  # 4 bytes a pixel
_TO_RGB = {
    "RGB888": cv2.COLOR_BGR2RGB,
    "BGR888": None,
    "XRGB8888": cv2.COLOR_BGRA2RGB,
    "XBGR8888": cv2.COLOR_RGBA2RGB,
}
_METADATA_KEYS = (
    "SensorTimestamp",
    "ExposureTime",
    "AnalogueGain",
    "DigitalGain",
    "ColourTemperature",
    "Lux",
    "FrameDuration",
)
_PI5_MODEL = re.compile(r"Raspberry Pi (5|500)\b|Compute Module 5\b")
INSTALL_HINT = (
    "install it with `sudo apt install python3-picamera2` and make the venv with "
    "`python3 -m venv --system-site-packages`"
)


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


def _reorder(array: np.ndarray, code: int | None) -> np.ndarray:
    """Colour-convert make_array's output; 3-channel swaps in place (it is our copy)."""
    if code is None:
        return np.ascontiguousarray(array) if array.flags.writeable else array.copy()
    if array.shape[-1] == 3 and array.flags.writeable and array.flags.c_contiguous:
        return cv2.cvtColor(array, code, dst=array)
    return cv2.cvtColor(array, code)


def _copy_to_bgr(mapped: Any, out: np.ndarray, code: int | None, channels: int) -> str | None:
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


class Picamera2Source(BaseSource):
    """A Raspberry Pi camera: BGR ``image`` from main, RGB ``lores`` for inference."""

    kind = "picamera2"

    def __init__(
        self,
        camera_num: int = 0,
        main_size_wh: tuple[int, int] = (1280, 720),
        lores_size_wh: tuple[int, int] | None = None,
        fps: float = 30.0,
        main_format: str = "RGB888",
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(f"picamera2:{camera_num}")
        if main_format not in MAIN_FORMATS:
            raise SourceError(
                f"{self.name}: main format {main_format!r} is not one of {', '.join(MAIN_FORMATS)}"
            )
        if camera_num < 0 or fps <= 0 or timeout_s <= 0 or min(main_size_wh) < 2:
            raise SourceError(
                f"{self.name}: need camera_num >= 0, fps > 0, timeout_s > 0 and a main "
                f"size of at least 2x2 (got fps={fps}, timeout_s={timeout_s}, size={main_size_wh})"
            )
        if lores_size_wh is not None and min(lores_size_wh) < 2:
            raise SourceError(f"{self.name}: lores size {lores_size_wh} is too small")
        self.camera_num = camera_num
        self.main_size_wh = (
            main_size_wh[0] - main_size_wh[0] % 2,
            main_size_wh[1] - main_size_wh[1] % 2,
        )
        self.lores_size_wh = (
            None if lores_size_wh is None else fit_lores(lores_size_wh, self.main_size_wh)
        )
        self.fps = fps
        self.main_format = main_format
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # the camera's lifetime vs. a frame being made
        self._cam: Any = None
        self._lores_format: str | None = None
        self._lores_shape: tuple[int, ...] = ()
        self._yuv: I420ToRGB | None = None
        self._mapped_array: Any = None  # picamera2.MappedArray
        self._map_read_only = True  # pass write=False (picamera2 versions that take it)
        self._pool = BufferPool()  # main images, handed out as Frame.image
        self._abandoned: set[Any] = set()  # jobs whose read() timed out
        self._abandoned_lock = threading.Lock()

    def start(self) -> SourceInfo:
        with self._lock:
            if self._cam is not None:
                return self.info
            self._stopping.clear()
            try:
                from picamera2 import MappedArray, Picamera2
            except ImportError as e:
                raise SourceError(
                    f"{self.name}: picamera2 is not available ({e}); {INSTALL_HINT}"
                ) from e
            except Exception as e:  # e.g. apt's simplejpeg built for numpy 1 under pip's numpy 2
                raise SourceError(
                    f"{self.name}: picamera2 failed to import: {e} (if this mentions "
                    "numpy: apt's picamera2 on Bookworm needs `numpy<2` in the venv)"
                ) from e
            try:
                cameras = Picamera2.global_camera_info()
            except Exception as e:
                raise SourceError(f"{self.name}: cannot list cameras: {e}") from e
            if self.camera_num >= len(cameras):
                found = (
                    ", ".join(f"{i}: {c.get('Model', '?')}" for i, c in enumerate(cameras))
                    or "none"
                )
                raise SourceError(
                    f"{self.name}: no camera {self.camera_num} (cameras found: {found}; "
                    "check the ribbon cable and `rpicam-hello --list-cameras`)"
                )
            try:
                cam = Picamera2(self.camera_num)
            except Exception as e:
                raise SourceError(
                    f"{self.name}: cannot open camera {self.camera_num} ({e}); is another "
                    "program (rpicam-*, libcamera, a second camera-app) using it?"
                ) from e
            try:
                if "timeout" not in inspect.signature(cam.wait).parameters:
                    raise RuntimeError(
                        "this picamera2 has no capture timeouts (it predates 2024); "
                        "run `sudo apt update && sudo apt full-upgrade`"
                    )
                self._configure(cam, is_pisp(Picamera2))
                cam.start()
            except Exception as e:
                self._info = None
                cam.close()
                raise SourceError(
                    f"{self.name}: cannot configure camera {self.camera_num}: {e}"
                ) from e
            self._mapped_array = MappedArray
            self._map_read_only = True
            self._cam = cam
            return self.info

    def _configure(self, cam: Any, pisp: bool) -> None:
        frame_us = round(1_000_000 / self.fps)
        lores = None
        if self.lores_size_wh is not None:
            lores = {"size": self.lores_size_wh, "format": "BGR888" if pisp else "YUV420"}
        config = cam.create_video_configuration(
            main={"size": self.main_size_wh, "format": self.main_format},
            lores=lores,
            controls={"FrameDurationLimits": (frame_us, frame_us)},
            buffer_count=4,
            queue=True,
            display=None,
            encode=None,
        )
        if lores is not None and lores["format"] == "YUV420":
            # libcamera.ColorSpace, reached through the instance picamera2 put there.
            config["colour_space"] = type(config["colour_space"]).Smpte170m()
        cam.configure(config)
        actual = cam.camera_configuration()
        main = actual["main"]
        main_w, main_h = main["size"]
        self._info = SourceInfo(
            name=self.name,
            kind=self.kind,
            size_wh=(int(main_w), int(main_h)),
            fps=self.fps,
            live=True,
        )
        lores_cfg = actual.get("lores")
        self._lores_format = None if lores_cfg is None else lores_cfg["format"]
        self._yuv = None
        if lores_cfg is not None:
            w, h = lores_cfg["size"]
            if self._lores_format == "YUV420":
                self._yuv = I420ToRGB((w, h), lores_cfg["stride"])
            elif self._lores_format not in _TO_RGB:
                raise SourceError(f"{self.name}: unexpected lores format {self._lores_format}")
            self._lores_shape = (h, w, 3)
        log.info(
            "%s: main %dx%d %s, lores %s, %.1f fps (%s)",
            self.name,
            *main["size"],
            main["format"],
            "none" if lores_cfg is None else f"{lores_cfg['size']} {self._lores_format}",
            self.fps,
            "Pi 5 / PiSP" if pisp else "Pi 4 / VC4",
        )

    def read(self, timeout_s: float | None = None) -> Frame | None:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            cam = self._cam
            if self._stopping.is_set():
                return None
            if cam is None:
                raise SourceError(f"{self.name}: read() before start()")
            job = cam.capture_request(wait=False, signal_function=self._job_signalled)
        try:
            request = cam.wait(job, timeout=timeout)
        except TimeoutError:
            self._abandon(cam, job)
            if self._stopping.is_set():
                return None
            raise SourceLostError(f"{self.name}: no frame within {timeout:g} s") from None
        except Exception as e:
            if self._stopping.is_set():
                return None
            if isinstance(e, CancelledError):
                raise SourceLostError(f"{self.name}: capture was cancelled") from e
            raise SourceLostError(f"{self.name}: capture failed: {e}") from e
        now_ns = time.monotonic_ns()
        with self._lock:
            try:
                if self._stopping.is_set():
                    return None
                return self._make_frame(request, now_ns)
            except SourceError:
                raise
            except Exception as e:
                raise SourceLostError(f"{self.name}: cannot read the frame's buffers: {e}") from e
            finally:
                request.release()

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

    def _main_image(self, request: Any) -> np.ndarray:
        """The main stream as BGR, copied in one pass from the mapped buffer into the pool."""
        w, h = self.info.size_wh
        fmt = self.main_format
        image = self._pool.get((h, w, 3))
        with self._map_main(request) as mapped:
            problem = _copy_to_bgr(mapped, image, _TO_BGR[fmt], 4 if fmt in _XRGB else 3)
        if problem is not None:
            raise SourceLostError(f"{self.name}: main image {problem}")
        return image

    def _make_frame(self, request: Any, now_ns: int) -> Frame:
        image = self._main_image(request)
        lores = None
        if self._lores_format is not None:
            raw = request.make_array("lores")
            lores = (
                self._yuv(raw)
                if self._yuv is not None
                else _reorder(raw, _TO_RGB[self._lores_format])
            )
            if lores.shape != self._lores_shape:
                raise SourceLostError(
                    f"{self.name}: lores has shape {lores.shape}, expected {self._lores_shape}"
                )
        metadata = request.get_metadata()
        sensor_ns = metadata.get("SensorTimestamp")
        plausible = isinstance(sensor_ns, int) and 0 <= now_ns - sensor_ns < 5_000_000_000
        return Frame(
            image=image,
            frame_id=self._take_id(),
            timestamp_ns=sensor_ns if plausible else now_ns,
            source=self.info,
            channel_order="BGR",
            lores=lores,
            lores_order="RGB",
            meta={k: metadata[k] for k in _METADATA_KEYS if k in metadata},
        )

    def _abandon(self, cam: Any, job: Any) -> None:
        """After a timeout: unqueue the job, and make sure a late request gets released."""
        with self._abandoned_lock:
            self._abandoned.add(job)
        cancel = getattr(cam, "cancel_all_and_flush", None)
        if cancel is not None:
            with self._lock:
                cancel()
        self._job_signalled(job)

    def _job_signalled(self, job: Any) -> None:
        """Called by picamera2's event loop when a capture job finishes."""
        with self._abandoned_lock:
            if job not in self._abandoned:
                return
        try:
            request = job.get_result(timeout=0)
        except TimeoutError:
            return  # still queued: this runs again when it finishes
        except Exception:  # cancelled or failed: nothing to release
            request = None
        with self._abandoned_lock:
            if job not in self._abandoned:
                return
            self._abandoned.discard(job)
        if request is not None:
            log.debug("%s: releasing a frame that arrived after its read() timed out", self.name)
            request.release()

    def stop(self) -> None:
        super().stop()
        with self._lock:
            cam, self._cam = self._cam, None
            if cam is None:
                return
            try:
                if hasattr(cam, "cancel_all_and_flush"):
                    cam.cancel_all_and_flush()  # wakes a read() waiting for a frame
                cam.stop()
            except Exception as e:
                log.warning("%s: stopping the camera failed: %s", self.name, e)
            finally:
                try:
                    cam.close()
                except Exception as e:
                    log.warning("%s: closing the camera failed: %s", self.name, e)
        with self._abandoned_lock:
            self._abandoned.clear()
        self._pool.clear()
