"""One clip file: encoded packets copied into fragmented MP4.

:class:`ClipFile` wraps the recording package's
:class:`~camera_app.recording.mux.PacketWriter` (fragmented MP4, one
fragment per key frame, so a clip being written already plays, and one cut
short by a kill or a full disk keeps its complete fragments) over an
:class:`~camera_app.recording.files.OutputFile` (created exclusively, whole
writes, torn tails cut back). It starts on a key frame; when the stream
sends its parameter sets out of band (``StreamInfo.extradata``) they go in
the file's header, and when it sends them in band but not before every key
frame, the last ones seen are put in front of the first packet.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av

from camera_app.clips.nal import is_annex_b, parameter_sets
from camera_app.clips.packets import EncodedPacket, StreamInfo
from camera_app.recording.files import OutputFile
from camera_app.recording.mux import PacketWriter

log = logging.getLogger(__name__)

NS = Fraction(1, 1_000_000_000)


class ClipFile:
    """Packets of one stream into one ``.mp4``; writes raise ``OSError`` /
    ``av.error.FFmpegError`` (the caller then calls :meth:`abort`)."""

    def __init__(
        self,
        out: OutputFile,
        stream: StreamInfo,
        fps: float = 30.0,
        parameter_sets: bytes | None = None,
    ) -> None:
        self.out = out
        self.stream = stream
        self.path = out.path
        self.writer = PacketWriter(
            out, out.path.suffix or ".mp4", size_wh=stream.size_wh, codec=stream.codec, fps=fps
        )
        if stream.extradata:
            assert self.writer.stream is not None
            self.writer.stream.codec_context.extradata = stream.extradata
        self._parameter_sets = parameter_sets
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.packets = 0
        self._reordered: bool | None = None
        """The stream has decode times (B-frames): they go into the file as they are."""
        self._keys: list[tuple[int, int]] = []
        """(packet index, time) of the key frames written: where fragments start."""

    def write(self, packet: EncodedPacket) -> None:
        data = packet.data
        if self.first_ns is None:
            if not packet.keyframe:
                raise ValueError("a clip file must start with a key frame")
            if (
                self._parameter_sets
                and not packet.stream.extradata
                and is_annex_b(data)
                and parameter_sets(packet.stream.codec, data) is None
            ):
                data = self._parameter_sets + data
            self.first_ns = packet.pts_ns
        if packet.keyframe:
            self._keys.append((self.packets, packet.pts_ns))
        if self._reordered is None:
            self._reordered = packet.dts_ns is not None
        if self._reordered:
            av_packet = av.Packet(data)
            av_packet.time_base = NS
            av_packet.pts = packet.pts_ns
            av_packet.dts = packet.dts_ns if packet.dts_ns is not None else packet.pts_ns
            av_packet.is_keyframe = packet.keyframe
            self.writer.write_packet(av_packet)
        else:
            self.writer.write(data, packet.pts_ns, packet.keyframe)
        self.last_ns = packet.pts_ns
        self.packets += 1

    @property
    def packets_durable(self) -> int:
        return self.writer.packets_durable

    def resume_ns(self) -> int | None:
        """After a failure: the time of the first packet not known to be in the
        file (the start of the fragment being written), to go on from there."""
        durable = self.packets_durable
        starts = [t for i, t in self._keys if i <= durable]
        return starts[-1] if starts else self.first_ns

    @property
    def duration_s(self) -> float:
        if self.first_ns is None or self.last_ns is None:
            return 0.0
        return (self.last_ns - self.first_ns) / 1e9

    def finish(self) -> None:
        """Trailer, sync, close: the whole clip is in the file."""
        self.writer.finish()

    def abort(self) -> None:
        """After a failed write: keep the complete fragments, drop the torn tail."""
        self.writer.abort()
