"""The Pi camera's main stream as H.264 from picamera2's own encoder, onto the run's packet bus.

Facts this module relies on (picamera2 0.3.36, raspberrypi/picamera2,
``picamera2/encoders`` and ``picamera2/outputs``; the fake in
``tests/fakes/picamera2`` follows the same version):

* ``from picamera2.encoders import H264Encoder`` is the V4L2 hardware encoder
  (``/dev/video11``, bcm2835-codec) on VC4: a Pi 4 or older, 1080p at most.
  On PiSP (a Pi 5 has no H.264 hardware) the package binds that name to
  ``LibavH264Encoder``: libx264 through PyAV on the CPU (preset ultrafast,
  tune zerolatency, frame threads, ``threads`` of them, 0 = one per core).
  Both take ``repeat`` (SPS/PPS before every key frame), ``iperiod`` (frames
  between key frames) and ``framerate``.
* ``Picamera2.start_encoder(encoder, output, name="main")`` gives the encoder
  the stream's size, format and stride, starts it (``Output.start()`` on its
  outputs first) and adds it to the set the camera's event loop feeds: every
  request of that stream goes through ``encoder.encode`` before it is
  released (the hardware path holds the request until the codec has read its
  dma-buf; libav one frame longer). ``stop_encoder(encoder)`` stops it: the
  V4L2 thread drains, libav flushes its delayed frames through the outputs,
  then ``Output.stop()``. ``Picamera2.stop()`` and ``close()`` leave encoders
  running: the source stops its encoder itself.
* The encoder calls ``Output.outputframe(frame, keyframe, timestamp, packet,
  audio)`` once per access unit (picamera2 before 0.3.23 passes fewer
  arguments; the defaults cover it): ``frame`` is Annex B bytes,
  ``timestamp`` microseconds since the encoder's first frame, whose
  ``SensorTimestamp`` // 1000 the encoder keeps in ``firsttimestamp``
  (CLOCK_MONOTONIC, the clock of ``Frame.timestamp_ns``). No B-frames: the
  packets' decode order is their presentation order.

The output is a plain ``Output`` that publishes each access unit as an
:class:`~camera_app.clips.packets.EncodedPacket` and keeps nothing. Not
``CircularOutput2``: that is a fixed delay line (a frame reaches its one
output only ``buffer_duration_ms`` after it was encoded, and only while an
output is open), while the clip writers keep their own ring of packets from
the bus, the same for this camera and for a network camera's stream, so one
ring serves pre-roll for every source.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from fractions import Fraction
from typing import Any

from camera_app.clips.packets import EncodedPacket, PacketBus, StreamInfo

log = logging.getLogger(__name__)

HARDWARE_MAX_PIXELS = 1920 * 1088
"""The Pi 4's H.264 block encodes up to 1080p (level 4.2)."""
_serial = itertools.count(1)


class EncoderLink:
    """One encoder started on one camera, publishing on the bus until :meth:`stop`.

    ``start`` announces the stream and starts picamera2's encoder on the
    main stream; a failure there is logged once and leaves the camera
    running without packets (the clip writers then encode frames
    themselves). ``stop`` (after the camera stopped) stops the encoder,
    which flushes its last packets onto the bus, then withdraws.
    """

    def __init__(
        self,
        bus: PacketBus,
        camera_name: str,
        fps: float,
        software_threads: int = 2,
    ) -> None:
        self.bus = bus
        self.camera_name = camera_name
        self.fps = fps
        self.software_threads = software_threads
        self.producer: str | None = None
        self.software = False
        self.packets = 0
        self.keyframes = 0
        self._encoder: Any = None
        self._stream: StreamInfo | None = None
        self._lock = threading.Lock()
        self._open = False
        self._seen_key = False
        self._last_pts_ns = -1

    def start(self, cam: Any, size_wh: tuple[int, int]) -> bool:
        """Attach a new encoder to ``cam`` (configured; started or not). True if it runs."""
        try:
            from picamera2 import encoders
        except Exception as e:  # an old picamera2, or a broken libav on this one
            log.warning("%s: picamera2's encoders are not available (%s)", self.camera_name, e)
            return False
        h264 = encoders.H264Encoder
        libav = getattr(encoders, "LibavH264Encoder", None)
        self.software = libav is not None and h264 is libav
        if not self.software and size_wh[0] * size_wh[1] > HARDWARE_MAX_PIXELS:
            log.warning(
                "%s: main %dx%d is larger than the H.264 hardware takes (1080p); "
                "clips will be encoded from frames instead",
                self.camera_name,
                *size_wh,
            )
            return False
        iperiod = max(1, round(self.fps))  # a key frame a second: pre-roll starts within 1 s
        # LibavH264Encoder passes framerate to PyAV's add_stream(rate=), which wants a rational.
        framerate = Fraction(self.fps).limit_denominator(1001)
        encoder = h264(repeat=True, iperiod=iperiod, framerate=framerate)
        kind = "hardware"
        if self.software:
            if hasattr(encoder, "threads"):
                encoder.threads = self.software_threads
            kind = f"libx264 on the CPU, {self.software_threads} threads"
            log.info(
                "%s: this Pi has no H.264 hardware (Pi 5): picamera2 encodes the main "
                "stream with libx264 on the CPU (%s); use a smaller main size to spend less",
                self.camera_name,
                type(encoder).__name__,
            )
        self.producer = f"{self.camera_name} {type(encoder).__name__} ({kind}) #{next(_serial)}"
        self._stream = StreamInfo(codec="h264", size_wh=size_wh)
        output = bus_output_class()(self)
        with self._lock:
            self._encoder, self._open = encoder, True
            self._seen_key, self._last_pts_ns = False, -1
        self.bus.announce(self.producer, self._stream)
        try:
            cam.start_encoder(encoder, output, name="main")
        except Exception as e:
            with self._lock:
                self._open = False
            self.bus.withdraw(self.producer)
            self._encoder = None
            log.warning(
                "%s: the H.264 encoder did not start (%s); clips will be encoded from frames",
                self.camera_name,
                e,
            )
            return False
        return True

    def stop(self, cam: Any) -> None:
        """Stop the encoder (its last packets still go out), then withdraw. Idempotent."""
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            try:
                cam.stop_encoder(encoder)
            except Exception as e:
                log.warning("%s: stopping the H.264 encoder failed: %s", self.camera_name, e)
        with self._lock:
            was_open, self._open = self._open, False
        if was_open and self.producer is not None:
            self.bus.withdraw(self.producer)

    def publish(self, frame: Any, keyframe: bool, timestamp_us: int | None) -> None:
        """One access unit from the encoder's thread (see :func:`bus_output_class`)."""
        with self._lock:
            if not self._open or self._stream is None:
                return
            if not keyframe and not self._seen_key:
                return  # a clip must start on a key frame
            self._seen_key = True
            first = getattr(self._encoder, "firsttimestamp", None)
            if first is None or timestamp_us is None:
                pts_ns = time.monotonic_ns()
            else:
                pts_ns = (int(first) + int(timestamp_us)) * 1000
            pts_ns = max(pts_ns, self._last_pts_ns + 1)  # muxers need strictly increasing times
            self._last_pts_ns = pts_ns
            self.packets += 1
            self.keyframes += keyframe
            packet = EncodedPacket(bytes(frame), pts_ns, bool(keyframe), self._stream)
            self.bus.publish(packet)  # subscribers only append to a bounded buffer


def bus_output_class() -> type:
    """A ``picamera2.outputs.Output`` subclass that forwards to an :class:`EncoderLink`.

    Built on first use: picamera2 is imported only once a camera opens, and
    ``Encoder.output`` accepts only instances of its ``Output``.
    """
    from picamera2.outputs import Output

    return _subclass(Output)


@functools.cache
def _subclass(base: type) -> type:
    class BusOutput(base):
        def __init__(self, link: EncoderLink) -> None:
            super().__init__()
            self.link = link

        def outputframe(
            self,
            frame: Any,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            if audio or frame is None or not self.recording:
                return
            self.link.publish(frame, keyframe, timestamp)

    return BusOutput
