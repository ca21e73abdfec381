"""Muxing encoded packets into files that play after a hard kill.

* ``.mp4``/``.m4v``/``.mov``: fragmented MP4 (``frag_keyframe+empty_moov+
  default_base_moof+delay_moov``): the file is a header and then a fragment
  at each key frame and at least every ``FRAGMENT_MAX_S`` (a quarter of a
  second), so a SIGKILL or a power cut loses at most the fragment being
  written (Media Source Extensions play it too).
  ``delay_moov`` writes the header with the first fragment, which lets a
  hardware encoder's stream carry its SPS/PPS in band.
* ``.mkv``: Matroska with a cluster at least every second (FFmpeg's default
  is 5 s), readable up to the last cluster without its index.
* ``.avi``: each packet is written as it comes; a gap in the timestamps is
  filled with empty chunks (players hold the previous picture), so live
  recordings with drops keep real time in this constant-rate format.

:class:`Muxer` writes through an :class:`~camera_app.recording.files.OutputFile`
and counts the packets known to be in the file (``packets_durable``): a
packet counts once the muxer has flushed later data after it. A failed
write raises ``OSError`` (or ``av.error.FFmpegError``); :meth:`Muxer.abort`
then cuts the file back to its last complete fragment.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import av.error

from camera_app.recording.files import OutputFile
from camera_app.recording.formats import CODECS, CONTAINERS, container_for

log = logging.getLogger(__name__)

__all__ = ["CODECS", "CONTAINERS", "Muxer", "PacketWriter", "Timeline", "container_for"]

MP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof+delay_moov"
FRAGMENT_MAX_S = 0.25
"""An MP4 fragment is written at least this often (of media time), key frame
or not: what a kill can lose does not depend on the key frame interval, and
a stalled pipeline right after a key frame does not hold a second of video
in memory. The cost is a ~100-byte fragment header each time."""
IO_BUFFER_BYTES = 1 << 20
"""One write per fragment for most fragments: a smaller buffer splits a
fragment into several writes, and a kill between them leaves a torn tail."""


def stream_time_base(container: str, fps: float) -> Fraction:
    """MP4: 90 kHz; Matroska: milliseconds (its only unit); AVI: one frame."""
    if container == "avi":
        return Fraction(fps).limit_denominator(1001) ** -1
    if container == "matroska":
        return Fraction(1, 1000)
    return Fraction(1, 90000)


class Timeline:
    """Capture times (ns) -> stream timestamps from 0, strictly increasing.

    In AVI's one-frame unit two frames closer than a frame period get
    consecutive numbers (the file drifts ahead rather than losing one)."""

    def __init__(self, time_base: Fraction) -> None:
        self.time_base = time_base
        self._t0_ns: int | None = None
        self._last = -1

    def pts(self, timestamp_ns: int) -> int:
        if self._t0_ns is None:
            self._t0_ns = timestamp_ns
        ticks = round(Fraction(timestamp_ns - self._t0_ns, 1_000_000_000) / self.time_base)
        self._last = max(ticks, self._last + 1)
        return self._last


def open_container(
    out: OutputFile, container: str, cluster_ms: int = 1000
) -> av.container.OutputContainer:
    options: dict[str, str] = {}
    if container in ("mp4", "mov"):
        options["movflags"] = MP4_FLAGS
        options["frag_duration"] = str(round(FRAGMENT_MAX_S * 1e6))
    elif container == "matroska":
        options["cluster_time_limit"] = str(cluster_ms)
    return av.open(out, "w", format=container, options=options, buffer_size=IO_BUFFER_BYTES)


class Muxer:
    """One output container over one :class:`OutputFile`, one video stream."""

    def __init__(self, out: OutputFile, container: str) -> None:
        self.out = out
        self.container_name = container
        self.container = open_container(out, container)
        self.stream: av.video.stream.VideoStream | None = None
        self.packets_muxed = 0
        self.packets_durable = 0
        self._closed = False

    def mux(self, packet: av.Packet) -> None:
        """Mux one packet of :attr:`stream`; raises ``OSError``/``FFmpegError``."""
        before = self.out.bytes_written
        self.container.mux(packet)
        if self.out.bytes_written != before:
            # The muxer flushed: everything before this packet is in the file,
            # and the file ends on a fragment / cluster / chunk boundary.
            self.packets_durable = self.packets_muxed
            self.out.mark_good()
        self.packets_muxed += 1

    def finish(self) -> None:
        """Write the trailer and close: every packet is in the file."""
        if self._closed:
            return
        self.container.close()
        self.out.sync()
        self._closed = True
        self.packets_durable = self.packets_muxed
        self.out.release()

    def abort(self) -> None:
        """After a failed write: stop, cut the torn tail, keep what is complete.

        A file with no complete packet is deleted (it holds nothing to keep;
        it is ours, created for this run)."""
        if self._closed:
            return
        self._closed = True
        self.out.reject_writes()
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError, ValueError) as e:
            log.debug("closing %s after a failure: %s", self.out.path, e)
        self.out.truncate_to_good()
        if self.packets_durable == 0:
            self.out.remove()
        else:
            self.out.release()


class PacketWriter(Muxer):
    """Muxes already-encoded H.264 packets (stream copy, a hardware encoder).

    ``PacketWriter.from_stream(out, ".mp4", demuxed_stream)`` copies the codec
    parameters (size, SPS/PPS) of a stream being read; ``PacketWriter(out,
    ".mp4", size_wh=...)`` takes a raw Annex B stream whose key frames carry
    SPS/PPS in band (picamera2's and FFmpeg's ``h264_v4l2m2m`` output).
    Timestamps start at 0 at the first packet, which should be a key frame.
    """

    def __init__(
        self,
        out: OutputFile,
        suffix: str,
        *,
        size_wh: tuple[int, int] | None = None,
        codec: str = "h264",
        template: av.video.stream.VideoStream | None = None,
        fps: float = 30.0,
    ) -> None:
        super().__init__(out, container_for(suffix))
        time_base = stream_time_base(self.container_name, fps)
        if template is not None:
            self.stream = self.container.add_stream_from_template(template, time_base=time_base)
        else:
            if size_wh is None:
                raise ValueError("PacketWriter needs size_wh or a template stream")
            self.stream = self.container.add_mux_stream(  # type: ignore[assignment]
                codec, rate=Fraction(fps).limit_denominator(1001),
                width=size_wh[0], height=size_wh[1], time_base=time_base,
            )  # fmt: skip
        self._t0: int | None = None
        self.timeline = Timeline(time_base)

    @classmethod
    def from_stream(
        cls, out: OutputFile, suffix: str, stream: av.video.stream.VideoStream
    ) -> PacketWriter:
        fps = float(stream.average_rate or stream.guessed_rate or 30)
        return cls(out, suffix, template=stream, fps=fps)

    def write_packet(self, packet: av.Packet) -> None:
        """A packet with ``pts``/``dts``/``time_base`` set (a demuxed one, say)."""
        assert self.stream is not None
        if packet.dts is None and packet.pts is None:
            raise ValueError("packet without timestamps")
        tb = packet.time_base
        if self._t0 is None:
            self._t0 = packet.dts if packet.dts is not None else packet.pts
        shift = self._t0 or 0
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.time_base = tb
        packet.stream = self.stream
        self.mux(packet)

    def write(self, data: bytes, timestamp_ns: int, keyframe: bool) -> None:
        """Raw encoder output without B-frames: one access unit, its capture time."""
        assert self.stream is not None
        packet = av.Packet(data)
        packet.time_base = self.timeline.time_base
        packet.pts = packet.dts = self.timeline.pts(timestamp_ns)
        packet.is_keyframe = keyframe
        packet.stream = self.stream
        self.mux(packet)
