"""Fake of ``picamera2.picamera2.Picamera2``: the API boundary camera_app uses.

Behaviour copied from picamera2 0.3.2x (raspberrypi/picamera2, main branch):

* ``Picamera2(n)`` looks ``n`` up in ``global_camera_info()`` first, so an index
  that does not exist raises ``IndexError: list index out of range``; a camera
  that cannot be acquired (busy) raises
  ``RuntimeError("Camera __init__ sequence did not complete.")``.
* ``create_*_configuration`` return plain dicts (``use_case``, ``transform``,
  ``colour_space``, ``buffer_count``, ``queue``, ``main``, ``lores``, ``raw``,
  ``controls``, ``sensor``, ``display``, ``encode``) with the real defaults,
  reject unknown stream keys with ``ValueError``, and round sizes down to even.
* ``configure`` checks like ``check_camera_config`` (even sizes, known formats,
  lores no larger than main, lores YUV on VC4), then fills in ``stride`` and
  ``framesize`` in the caller's stream dicts, as libcamera's validate() does.
  Strides: packed RGB rows aligned to 32 bytes (VC4) / 64 (PiSP); YUV420 Y rows
  to twice that, so each chroma plane (stride/2) keeps the alignment.
* ``start`` runs an event loop thread (the NullPreview's job); frames are
  produced only while a job is waiting and fewer than ``buffer_count`` requests
  are held, so a caller that leaks requests stalls the camera, as on a Pi.
* ``capture_request(wait=False)`` returns a ``Job``; ``wait(job, timeout)``
  raises ``TimeoutError`` without cancelling it; ``cancel_all_and_flush()``
  cancels queued jobs (their ``get_result`` raises ``CancelledError``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ._libcamera import ColorSpace, Transform
from .fake import FAKE
from .job import Job, JobFunction
from .platform import Platform, get_platform
from .request import RGB_LAYOUTS, YUV_PLANAR, CompletedRequest

_log = logging.getLogger("picamera2.picamera2")

YUV_FORMATS = (*YUV_PLANAR, "NV12", "NV21", "YUYV", "YVYU", "UYVY", "VYUY")
RAW_FORMAT = "SBGGR10_CSI2P"
SENSOR_MODES = ((1536, 864), (2304, 1296), (4608, 2592))
_STREAM_KEYS = ("format", "size", "stride", "preserve_ar")
# Defaults of create_{preview,still,video}_configuration (size None: the sensor's).
_USE_CASES: dict[str, dict[str, Any]] = {
    "preview": {
        "format": "XBGR8888",
        "size": (640, 480),
        "buffer_count": 4,
        "display": "main",
        "encode": "main",
        "controls": {"NoiseReductionMode": 3, "FrameDurationLimits": (100, 83333)},
    },
    "still": {
        "format": "BGR888",
        "size": None,
        "buffer_count": 1,
        "display": None,
        "encode": None,
        "controls": {"NoiseReductionMode": 2, "FrameDurationLimits": (100, 1000000000)},
    },
    "video": {
        "format": "XBGR8888",
        "size": (1280, 720),
        "buffer_count": 6,
        "display": "main",
        "encode": "main",
        "controls": {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333)},
    },
}


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _stride_and_framesize(fmt: str, size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    base = 64 if get_platform() == Platform.PISP else 32
    if fmt in RGB_LAYOUTS:
        stride = _align(w * len(RGB_LAYOUTS[fmt]), base)
        return stride, stride * h
    if fmt in YUV_FORMATS:
        stride = _align(w, 2 * base) if fmt in YUV_PLANAR else _align(w * 2, base)
        return stride, stride * h * 3 // 2 if fmt in YUV_PLANAR else stride * h
    stride = _align(w * 5 // 4, base)  # 10-bit packed raw
    return stride, stride * h


class Picamera2:
    platform = Platform.VC4
    """Set by ``reset()``; the real class evaluates ``get_platform()`` at import."""

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [dict(cam, Num=i) for i, cam in enumerate(FAKE.cameras)]

    def __init__(
        self,
        camera_num: int = 0,
        verbose_console: Any = None,
        tuning: Any = None,
        allocator: Any = None,
    ) -> None:
        self.is_open = False
        self.started = False
        camera_num = self.global_camera_info()[camera_num]["Num"]  # IndexError, like the real one
        with FAKE.lock:
            if camera_num in FAKE.busy or camera_num in FAKE.opened:
                _log.error("Camera __init__ sequence did not complete.")
                raise RuntimeError("Camera __init__ sequence did not complete.")
            FAKE.opened[camera_num] = self
        self.camera_idx = camera_num
        self.camera: str | None = FAKE.cameras[camera_num]["Id"]
        self.is_open = True
        self.sensor_resolution = SENSOR_MODES[-1]
        self.sensor_format = RAW_FORMAT
        self.camera_config: dict[str, Any] | None = None
        self.stop_count = 0
        self.configure_count = 0
        self.request_lock = threading.Lock()
        self.lock = threading.RLock()  # protects _job_list and completed_requests
        self._wakeup = threading.Condition(self.lock)
        self._job_list: list[Job] = []
        self.completed_requests: list[CompletedRequest] = []
        self._max_queue_len = 0
        self._held = 0  # requests produced and not yet released
        self._loop: threading.Thread | None = None

    # -- configurations ---------------------------------------------------------------
    def _stream(
        self, defaults: dict[str, Any], updates: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if updates is None:
            return None
        stream = dict(defaults)
        for key, value in updates.items():
            if key not in _STREAM_KEYS:
                raise ValueError(
                    f"Bad key {key!r}: valid stream configuration keys are {_STREAM_KEYS}"
                )
            stream[key] = value
        w, h = stream["size"]
        stream["size"] = (w - w % 2, h - h % 2)  # align_stream(optimal=False)
        return stream

    def _create(
        self,
        kind: str,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: Any = ...,
        transform: Any = None,
        colour_space: Any = None,
        buffer_count: int | None = None,
        controls: dict[str, Any] | None = None,
        display: Any = ...,
        encode: Any = ...,
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        use_case: str | None = None,
    ) -> dict[str, Any]:
        if self.camera is None:
            raise RuntimeError("Camera not opened")
        defaults = _USE_CASES[kind]
        main_defaults = {
            "format": defaults["format"],
            "size": defaults["size"] or self.sensor_resolution,
            "preserve_ar": True,
        }
        main_cfg = self._stream(main_defaults, main or {})
        assert main_cfg is not None
        lores_cfg = self._stream(
            {"format": "YUV420", "size": main_cfg["size"], "preserve_ar": False}, lores
        )
        raw_cfg = (
            None
            if raw is None
            else {
                "format": self.sensor_format,
                "size": main_cfg["size"],
                **({} if raw is ... else raw),
            }
        )
        if colour_space is None:
            w, h = main_cfg["size"]
            colour_space = (
                ColorSpace.Sycc()
                if kind != "video"  # video: chosen by resolution
                else ColorSpace.Smpte170m()
                if w < 1280 or h < 720
                else ColorSpace.Rec709()
            )
        config = {
            "use_case": use_case or kind,
            "transform": transform or Transform(),
            "colour_space": colour_space,
            "buffer_count": buffer_count or defaults["buffer_count"],
            "queue": queue,
            "main": main_cfg,
            "lores": lores_cfg,
            "raw": raw_cfg,
            "controls": defaults["controls"] | (controls or {}),
            "sensor": sensor or {},
        }
        for key, given in (("display", display), ("encode", encode)):
            stream = defaults[key] if given is ... else given
            if stream is not None and config.get(stream) is None:
                raise RuntimeError(f"{key.capitalize()} stream {stream} was not defined")
            config[key] = stream
        return config

    def create_preview_configuration(
        self, main: dict[str, Any] | None = None, lores: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._create("preview", main, lores, **kwargs)

    def create_still_configuration(
        self, main: dict[str, Any] | None = None, lores: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._create("still", main, lores, **kwargs)

    def create_video_configuration(
        self, main: dict[str, Any] | None = None, lores: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._create("video", main, lores, **kwargs)

    # -- configure / start / stop -----------------------------------------------------
    @staticmethod
    def _check_stream(stream: Any, name: str) -> None:
        if type(stream) is not dict:
            raise RuntimeError(name + " stream should be a dictionary")
        fmt, size = stream.get("format"), stream.get("size")
        if not isinstance(fmt, str):
            raise RuntimeError("format in " + name + " stream should be a string")
        if name == "raw":
            if not fmt.startswith(("SBGGR", "SRGGB", "SGBRG", "SGRBG")):
                raise RuntimeError("Unrecognised raw format " + fmt)
        elif fmt not in RGB_LAYOUTS and fmt not in YUV_FORMATS:
            raise RuntimeError("Bad format " + fmt + " in stream " + name)
        if type(size) is not tuple or len(size) != 2:
            raise RuntimeError("size in " + name + " stream should be (width, height)")
        if size[0] % 2 or size[1] % 2:
            raise RuntimeError("width and height should be even")

    def configure(self, camera_config: dict[str, Any] | None = None) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = dict(camera_config or self.create_preview_configuration())
        for key in ("colour_space", "transform", "main", "lores", "raw"):
            if key not in config:
                raise RuntimeError(f"{key!r} key expected in camera configuration")
        if not isinstance(config["colour_space"], ColorSpace):
            raise RuntimeError("Colour space has incorrect type")
        self._check_stream(config["main"], "main")
        lores = config["lores"]
        if lores is not None:
            self._check_stream(lores, "lores")
            (mw, mh), (lw, lh) = config["main"]["size"], lores["size"]
            if lw > mw or lh > mh:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if Picamera2.platform == Platform.VC4 and lores["format"] not in YUV_FORMATS:
                raise RuntimeError("lores stream must be YUV")
        if config["raw"] is not None:
            self._check_stream(config["raw"], "raw")
        if FAKE.configure_error:
            raise RuntimeError(FAKE.configure_error)
        # libcamera's validate(): fill in what the hardware will actually do.
        for name in ("main", "lores", "raw"):
            stream = config[name]
            if stream is None:
                continue
            if name == "raw":
                mw, mh = config["main"]["size"]
                stream["size"] = next(
                    (m for m in SENSOR_MODES if m[0] >= mw and m[1] >= mh), SENSOR_MODES[-1]
                )
            stream["stride"], stream["framesize"] = _stride_and_framesize(
                stream["format"], stream["size"]
            )
        self.camera_config = config
        self._max_queue_len = (
            1 if config.get("queue", True) and config.get("buffer_count", 1) > 1 else 0
        )
        self.configure_count += 1
        with FAKE.lock:
            FAKE.configs.append(config)

    def camera_configuration(self) -> dict[str, Any] | None:
        return self.camera_config

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        assert self.camera_config is not None
        return self.camera_config[name]

    def frame_duration_us(self) -> int:
        """Fake only: the configured frame duration."""
        limits = (
            (self.camera_config or {})
            .get("controls", {})
            .get("FrameDurationLimits", (33333, 33333))
        )
        return int(limits[0])

    def start(self, config: dict[str, Any] | None = None, show_preview: Any = False) -> None:
        if self.camera_config is None and config is None:
            config = self.create_preview_configuration()
        if config is not None:
            self.configure(config)
        if self.started:
            return
        self.started = True
        self._loop = threading.Thread(
            target=self._event_loop, name="fake-picamera2-loop", daemon=True
        )
        self._loop.start()

    def stop(self) -> None:
        if not self.started:
            return
        with self._wakeup:
            self.stop_count += 1
            self.started = False
            self._wakeup.notify_all()
            queued, self.completed_requests = self.completed_requests, []
        loop, self._loop = self._loop, None
        if loop is not None and loop is not threading.current_thread():
            loop.join()
        for req in queued:
            req.release()

    def close(self) -> None:
        if not self.is_open:
            return
        self.stop()
        with FAKE.lock:
            FAKE.opened.pop(self.camera_idx, None)
        self.is_open = False
        self.camera = None
        self.camera_config = None

    def __enter__(self) -> Picamera2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the event loop ---------------------------------------------------------------
    def _wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    def _buffer_returned(self) -> None:
        with self._wakeup:
            self._held -= 1
            self._wakeup.notify_all()

    def _can_deliver(self) -> bool:
        assert self.camera_config is not None
        return (
            bool(self._job_list)
            and not FAKE.hang
            and self._held < self.camera_config["buffer_count"]
        )

    def _event_loop(self) -> None:
        while True:
            with self._wakeup:
                while self.started and not self._can_deliver():
                    self._wakeup.wait()
                if not self.started:
                    return
                self._held += 1
                FAKE.frames_delivered += 1
                request = CompletedRequest(self, FAKE.frames_delivered)
                self.completed_requests.append(request)
                finished = []
                while self._job_list and self._job_list[0].execute():
                    finished.append(self._job_list.pop(0))
                while len(self.completed_requests) > self._max_queue_len:
                    self.completed_requests.pop(0).release()
            for job in finished:
                job.signal()

    # -- jobs -------------------------------------------------------------------------
    def dispatch_functions(
        self,
        functions: list[JobFunction],
        wait: Any,
        signal_function: Callable[[Job], None] | None = None,
        immediate: bool = False,
    ) -> Any:
        if wait is None:
            wait = signal_function is None
        timeout = None if wait is True else wait
        job = Job(functions, signal_function)
        with self._wakeup:
            self._job_list.append(job)
            self._wakeup.notify_all()
        FAKE.job_queued.set()
        return job.get_result(timeout=timeout) if wait else job

    def wait(self, job: Job, timeout: float | None = None) -> Any:
        return job.get_result(timeout=timeout)

    def cancel_all_and_flush(self) -> None:
        with self.lock:
            for job in self._job_list:
                job.cancel()
            self._job_list = []

    def capture_request_(self) -> tuple[bool, CompletedRequest | None]:
        if FAKE.fail_after_frames is not None and FAKE.frames_delivered > FAKE.fail_after_frames:
            raise RuntimeError("Camera frontend has timed out!")
        if not self.completed_requests:
            return (False, None)
        return (True, self.completed_requests.pop(0))

    def capture_request(
        self,
        wait: Any = None,
        signal_function: Callable[[Job], None] | None = None,
        flush: Any = None,
    ) -> Any:
        return self.dispatch_functions([self.capture_request_], wait, signal_function)

    @contextlib.contextmanager
    def captured_request(self, wait: Any = None, flush: Any = None) -> Iterator[CompletedRequest]:
        request = self.capture_request(wait=wait, flush=flush)
        try:
            yield request
        finally:
            request.release()
