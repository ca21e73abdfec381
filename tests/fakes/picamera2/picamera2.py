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
* Encoders (picamera2 0.3.36): ``start_encoder(encoder, output, name=...)``
  takes the stream's size, format and stride, pegs ``framerate`` at 30 fps
  at most from ``camera_ctrl_info["FrameDurationLimits"][1].min`` when the
  encoder has none, starts the encoder (which starts its outputs) and adds it
  to ``encoders``; the event loop hands every request to
  ``encoder.encode(encoder.name, request)`` (under the camera lock, after the
  jobs ran, before the request is released). ``stop_encoder()`` stops them
  (each flushes through its outputs) and removes them; ``stop()`` and
  ``close()`` do not stop encoders, as for real. ``start_recording`` is
  ``start_encoder`` then ``start``; ``stop_recording`` is ``stop`` then
  ``stop_encoder``.
* While an encoder is attached the fake camera runs as a real one does, one
  frame every frame duration whether a capture waits or not (the encoder
  sees every frame); without one it delivers a frame as soon as a capture
  waits (quicker tests; the real camera would be running anyway).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
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
        self._encoders: set[Any] = set()
        self.stream_map: dict[str, dict[str, Any]] = {}
        self.encode_stream_name: str | None = None
        self._next_frame_at = 0.0
        # imx708: FrameDurationLimits as libcamera's ControlInfo (min/max in us).
        self.camera_ctrl_info: dict[str, Any] = {
            "FrameDurationLimits": (
                "FrameDurationLimits",
                SimpleNamespace(min=8474, max=220417486, default=None),
            )
        }

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
        self.stream_map = {name: config[name] for name in ("main", "lores", "raw") if config[name]}
        self.encode_stream_name = config.get("encode")
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

    def _delivery_wait(self) -> float | None:
        """None: a frame can be delivered now; else how long to wait (inf: until woken)."""
        assert self.camera_config is not None
        if FAKE.hang or self._held >= self.camera_config["buffer_count"]:
            return math.inf
        if self._encoders:  # a running camera: one frame per frame duration
            left = self._next_frame_at - time.monotonic()
            return None if left <= 0 else left
        return None if self._job_list else math.inf

    def _event_loop(self) -> None:
        while True:
            with self._wakeup:
                while self.started and (wait := self._delivery_wait()) is not None:
                    self._wakeup.wait(None if wait == math.inf else wait)
                if not self.started:
                    return
                now = time.monotonic()
                self._next_frame_at = max(now, self._next_frame_at) + self.frame_duration_us() / 1e6
                self._held += 1
                FAKE.frames_delivered += 1
                request = CompletedRequest(self, FAKE.frames_delivered)
                self.completed_requests.append(request)
                request.acquire()  # process_requests' own use while it works on the request
                finished = []
                while self._job_list and self._job_list[0].execute():
                    finished.append(self._job_list.pop(0))
                for encoder in list(self._encoders):
                    if encoder.name in self.stream_map:
                        encoder.encode(encoder.name, request)
                request.release()
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

    # -- encoders ---------------------------------------------------------------------
    def start_encoder(
        self,
        encoder: Any = None,
        output: Any = None,
        pts: Any = None,
        quality: Any = None,
        name: str | None = None,
    ) -> None:
        _encoder = None
        if encoder is not None:
            _encoder = encoder
        elif len(self._encoders) > 1:
            raise RuntimeError("Multiple possible encoders, need to pass encoder")
        elif len(self._encoders) == 1:
            _encoder = next(iter(self._encoders))
        if _encoder is None:
            raise RuntimeError("No encoder specified")
        if output is not None:
            if isinstance(output, str):
                raise NotImplementedError("the fake has no FileOutput")
            _encoder.output = output
        streams = self.camera_configuration()
        if not streams:
            raise RuntimeError("Camera has not been configured")
        if name is None:
            name = self.encode_stream_name
        if streams.get(name, None) is None:
            raise RuntimeError(f"Encode stream {name} was not defined")
        _encoder.name = name
        _encoder.width, _encoder.height = streams[name]["size"]
        _encoder.format = streams[name]["format"]
        _encoder.stride = streams[name]["stride"]
        min_frame_duration = self.camera_ctrl_info["FrameDurationLimits"][1].min
        min_frame_duration = max(min_frame_duration, 33333)
        try:
            if _encoder.framerate is None:
                _encoder.framerate = 1000000 / min_frame_duration
        except AttributeError:
            pass
        _encoder.start(quality=quality)
        with FAKE.lock:
            FAKE.encoder_starts.append(_encoder)
        with self._wakeup:
            self._encoders.add(_encoder)
            self._wakeup.notify_all()

    def stop_encoder(self, encoders: Any = None) -> None:
        from .encoders import Encoder

        remove = []
        if encoders is None:
            for encoder in self._encoders:
                encoder.stop()
                remove += [encoder]
        elif isinstance(encoders, Encoder):
            encoders.stop()
            remove += [encoders]
        elif isinstance(encoders, (list, set)):
            for encoder in encoders:
                encoder.stop()
                remove += [encoder]
        with self.lock:
            for encoder in remove:
                self._encoders.remove(encoder)

    @property
    def encoders(self) -> set[Any]:
        return self._encoders

    def start_recording(
        self,
        encoder: Any,
        output: Any,
        pts: Any = None,
        config: Any = None,
        quality: Any = None,
        name: str | None = None,
    ) -> None:
        if not self.camera_config and config is None:
            config = self.create_video_configuration()
        if config is not None:
            self.configure(config)
        self.start_encoder(encoder, output, pts=pts, quality=quality, name=name)
        self.start()

    def stop_recording(self) -> None:
        self.stop()
        self.stop_encoder()
