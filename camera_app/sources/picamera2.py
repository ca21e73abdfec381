"""Raspberry Pi camera through picamera2 (libcamera), on Pi 4 (VC4) and Pi 5 (PiSP).

picamera2 comes from apt (``python3-picamera2``); a venv sees it only when
made with ``--system-site-packages``. It is imported in ``start()``. Pixel
formats and their conversions are in :mod:`.picamera2_formats`; the H.264
encoder that publishes the main stream for clips in :mod:`.picamera2_encoder`.

Facts this module relies on (picamera2 0.3.2x-0.3.36, raspberrypi/picamera2):

* ``capture_request(wait=False)`` returns a job; ``wait(job, timeout)`` raises
  ``TimeoutError`` without cancelling it, so a late frame would be handed to
  nobody. The job's ``signal_function`` releases such late requests, and
  ``cancel_all_and_flush()`` (2024+) drops queued jobs on timeout and stop.
* ``SensorTimestamp`` is on CLOCK_MONOTONIC (picamera2's ``capture_request(
  flush=True)`` compares it with ``time.monotonic_ns()``), the clock of
  ``Frame.timestamp_ns``; it is used when plausible, else the time of return.
  The encoder's packets carry the same clock (see :mod:`.picamera2_encoder`).
* With a packet bus that has subscribers (clips, segments: checked at each
  start), picamera2's ``H264Encoder`` encodes the main stream
  (hardware on a Pi 4, libx264 on a Pi 5) from the camera's event loop, apart
  from the frames this source reads: one encoder per camera start, stopped
  (and the bus withdrawn) before the camera closes; a restarted camera (a new
  source from ``ReconnectingSource``'s factory) announces a new one. The
  encoder holds requests while it reads them, so the camera gets 6 buffers
  (picamera2's video default) instead of 4.

Buffers: every request is released before ``read()`` returns; the images
are copied out of it first (see :class:`.picamera2_formats.StreamImages`).
No frame is kept for pre-roll: clips get theirs from the encoder's packets.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from concurrent.futures import CancelledError
from typing import Any

from camera_app.clips.packets import PacketBus
from camera_app.errors import SourceError, SourceLostError, SourceUnavailableError
from camera_app.frames import Frame, SourceInfo
from camera_app.sources.base import BaseSource
from camera_app.sources.picamera2_encoder import EncoderLink
from camera_app.sources.picamera2_formats import MAIN_FORMATS, StreamImages, fit_lores, is_pisp

log = logging.getLogger(__name__)

_METADATA_KEYS = (
    "SensorTimestamp",
    "ExposureTime",
    "AnalogueGain",
    "DigitalGain",
    "ColourTemperature",
    "Lux",
    "FrameDuration",
)
INSTALL_HINT = (
    "install it with `sudo apt install python3-picamera2` and make the venv with "
    "`python3 -m venv --system-site-packages`"
)


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
        packets: PacketBus | None = None,
        software_encoder_threads: int = 2,
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
        self.images: StreamImages | None = None
        """The current camera's streams as images (a new one each start)."""
        self._abandoned: set[Any] = set()  # jobs whose read() timed out
        self._abandoned_lock = threading.Lock()
        self.encoder: EncoderLink | None = (
            None
            if packets is None
            else EncoderLink(packets, self.name, fps, software_threads=software_encoder_threads)
        )
        """Publishes the main stream's H.264 on ``packets``; None without a bus."""

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
                raise SourceUnavailableError(f"{self.name}: cannot list cameras: {e}") from e
            if self.camera_num >= len(cameras):
                found = (
                    ", ".join(f"{i}: {c.get('Model', '?')}" for i, c in enumerate(cameras))
                    or "none"
                )
                raise SourceUnavailableError(
                    f"{self.name}: no camera {self.camera_num} (cameras found: {found}; "
                    "check the ribbon cable and `rpicam-hello --list-cameras`)"
                )
            try:
                cam = Picamera2(self.camera_num)
            except Exception as e:
                raise SourceUnavailableError(
                    f"{self.name}: cannot open camera {self.camera_num} ({e}); is another "
                    "program (rpicam-*, libcamera, a second camera-app) using it?"
                ) from e
            try:
                if "timeout" not in inspect.signature(cam.wait).parameters:
                    raise RuntimeError(
                        "this picamera2 has no capture timeouts (it predates 2024); "
                        "run `sudo apt update && sudo apt full-upgrade`"
                    )
                encode = self.encoder is not None and self.encoder.bus.wanted
                self._configure(cam, is_pisp(Picamera2), MappedArray, encode)
                cam.start()
            except Exception as e:
                self._info = None
                cam.close()
                raise SourceError(
                    f"{self.name}: cannot configure camera {self.camera_num}: {e}"
                ) from e
            self._cam = cam
            if self.encoder is not None and encode:
                self.encoder.start(cam, self.info.size_wh)
            return self.info

    def _configure(self, cam: Any, pisp: bool, mapped_array: Any, encode: bool) -> None:
        frame_us = round(1_000_000 / self.fps)
        lores = None
        if self.lores_size_wh is not None:
            lores = {"size": self.lores_size_wh, "format": "BGR888" if pisp else "YUV420"}
        config = cam.create_video_configuration(
            main={"size": self.main_size_wh, "format": self.main_format},
            lores=lores,
            controls={"FrameDurationLimits": (frame_us, frame_us)},
            buffer_count=6 if encode else 4,
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
        self.images = StreamImages(
            self.name, mapped_array, self.main_format, self._info.size_wh, lores_cfg
        )
        log.info(
            "%s: main %dx%d %s, lores %s, %.1f fps (%s)",
            self.name,
            *main["size"],
            main["format"],
            "none" if lores_cfg is None else f"{lores_cfg['size']} {lores_cfg['format']}",
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

    def _make_frame(self, request: Any, now_ns: int) -> Frame:
        assert self.images is not None
        image = self.images.main_bgr(request)
        lores = self.images.lores_rgb(request)
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
                if self.encoder is not None:
                    self.encoder.stop(cam)  # its last packets, then the bus is withdrawn
                try:
                    cam.close()
                except Exception as e:
                    log.warning("%s: closing the camera failed: %s", self.name, e)
        with self._abandoned_lock:
            self._abandoned.clear()
        if self.images is not None:
            self.images.pool.clear()
