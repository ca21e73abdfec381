"""Encoded video packets, and the bus a source publishes them on.

A source that already has encoded video (the Pi camera's hardware H.264
encoder through picamera2, a network camera's H.264/H.265 stream) publishes
each packet on the run's :class:`PacketBus`; sinks that record (event clips,
segments) subscribe and copy the packets into files instead of encoding
frames again. Without a producer, those sinks encode frames themselves.

Subscribers are called on the producer's thread: they must only append to a
bounded buffer and return (never block, never do I/O there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the packets are: enough to open a muxer without decoding."""

    codec: str
    """FFmpeg codec name: ``h264``, ``hevc``..."""
    size_wh: tuple[int, int]
    extradata: bytes | None = None
    """SPS/PPS (avcC, or Annex B as FFmpeg's RTSP demuxer gives them from the
    SDP) when the stream carries them out of band; None for Annex B streams
    with headers in band (repeated before key frames)."""
    time_base_hz: int = 1_000_000_000
    """Packet times are in nanoseconds unless said otherwise."""


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    data: bytes
    pts_ns: int
    """Presentation time on the run's capture clock (monotonic ns), the
    same clock as ``Frame.timestamp_ns``."""
    keyframe: bool
    stream: StreamInfo
    dts_ns: int | None = None
    """Decode time on the same clock, for streams with B-frames (a network
    camera's); None: the same as ``pts_ns`` (no reordering: picamera2's
    encoders). Increases strictly from packet to packet while announced."""


Subscriber = Callable[[EncodedPacket], None]


class PacketBus:
    """One per run: at most one producer (the source), any number of subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._stream: StreamInfo | None = None
        self.producer: str | None = None
        """Who publishes (``picamera2 H264Encoder``, ``rtsp copy``), once one does."""

    def announce(self, producer: str, stream: StreamInfo) -> None:
        """A source says it will publish packets of ``stream`` (call before the first)."""
        with self._lock:
            self.producer, self._stream = producer, stream
        log.info("encoded video from %s (%s %dx%d)", producer, stream.codec, *stream.size_wh)

    def withdraw(self, producer: str | None = None) -> None:
        """The producer stopped (camera restart): subscribers end what they write.

        With ``producer``, only if that one is still the producer (a source
        stopped late must not withdraw the one that replaced it)."""
        with self._lock:
            if producer is None or producer == self.producer:
                self.producer = None

    @property
    def stream(self) -> StreamInfo | None:
        with self._lock:
            return self._stream if self.producer is not None else None

    @property
    def wanted(self) -> bool:
        """Whether anyone subscribes. A source whose packets cost CPU (the Pi
        camera's encoder; software on a Pi 5) checks this when it starts, so
        subscribe before the source starts (``build_run`` builds sinks first)."""
        with self._lock:
            return bool(self._subscribers)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the call that removes it."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, packet: EncodedPacket) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(packet)
            except Exception:  # a subscriber's bug must not stop the camera
                log.exception("packet subscriber failed")
