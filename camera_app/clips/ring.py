"""The pre-roll buffer: the last seconds of *encoded* video, whole GOPs only.

A clip has to start some seconds before the event that opens it, so the
packets of the recent past are kept, never raw frames (a 720p BGR frame is
2.7 MB; a second of 720p H.264 at modest quality is some 100-200 KB).
:class:`PacketRing` holds them as a queue of GOPs (a key frame and the
packets up to the next one) and drops from the front a whole GOP at a
time, so whatever it holds starts on a key frame and decodes on its own.

Bounds: it keeps at least ``max_s`` seconds when it can (the oldest GOP is
dropped only once the next one still starts ``max_s`` before the newest
packet) and never more than ``max_bytes`` (then the oldest GOPs go first,
even if that leaves less than ``max_s``; a single GOP larger than the
budget is dropped whole, and packets are refused until the next key frame).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

from camera_app.clips.packets import EncodedPacket

log = logging.getLogger(__name__)


class PacketRing:
    """Recent encoded packets in capture order, starting on a key frame."""

    def __init__(self, max_s: float, max_bytes: int) -> None:
        if max_s <= 0 or max_bytes <= 0:
            raise ValueError(f"ring bounds must be positive, got {max_s} s, {max_bytes} bytes")
        self.max_ns = round(max_s * 1e9)
        self.max_bytes = max_bytes
        self._gops: deque[list[EncodedPacket]] = deque()
        self.bytes = 0
        self.dropped = 0
        """Packets refused (no key frame yet) or dropped over the byte budget
        before they aged out (the budget is too small for ``max_s``)."""

    # -- state ---------------------------------------------------------------
    def __len__(self) -> int:
        return sum(len(g) for g in self._gops)

    @property
    def oldest_ns(self) -> int | None:
        return self._gops[0][0].pts_ns if self._gops else None

    @property
    def newest_ns(self) -> int | None:
        return self._gops[-1][-1].pts_ns if self._gops else None

    @property
    def span_s(self) -> float:
        if not self._gops:
            return 0.0
        return (self._gops[-1][-1].pts_ns - self._gops[0][0].pts_ns) / 1e9

    def keyframes_ns(self) -> list[int]:
        return [g[0].pts_ns for g in self._gops]

    # -- changes -------------------------------------------------------------
    def clear(self) -> None:
        """Forget everything (the stream changed: its old packets cannot precede new ones)."""
        self._gops.clear()
        self.bytes = 0

    def append(self, packet: EncodedPacket) -> bool:
        """Add the newest packet; False when refused (no key frame to start from)."""
        if packet.keyframe:
            self._gops.append([packet])
        elif self._gops:
            self._gops[-1].append(packet)
        else:
            self.dropped += 1
            return False
        self.bytes += len(packet.data)
        self._trim(packet.pts_ns)
        return True

    def _trim(self, newest_ns: int) -> None:
        gops = self._gops
        while len(gops) > 1 and gops[1][0].pts_ns <= newest_ns - self.max_ns:
            self._drop_oldest(aged=True)
        while gops and self.bytes > self.max_bytes:
            self._drop_oldest(aged=False)

    def _drop_oldest(self, aged: bool) -> None:
        gop = self._gops.popleft()
        self.bytes -= sum(len(p.data) for p in gop)
        if not aged:
            self.dropped += len(gop)
            log.debug("pre-roll buffer over %d bytes: dropped a GOP of %d packets", self.max_bytes, len(gop))  # fmt: skip

    # -- reading -------------------------------------------------------------
    def start_for(self, target_ns: int, latest_ns: int | None = None) -> int | None:
        """The key frame a clip asked to start at ``target_ns`` begins with:
        the one nearest to it that is not after ``latest_ns`` (the event's
        own start, so a clip never misses the beginning of its event), or
        the oldest held when none is that early. None when empty."""
        if not self._gops:
            return None
        keys = self.keyframes_ns()
        allowed = [k for k in keys if latest_ns is None or k <= latest_ns] or keys[:1]
        return min(allowed, key=lambda k: (abs(k - target_ns), k))

    def since(self, start_ns: int, until_ns: int | None = None) -> Iterator[EncodedPacket]:
        """Packets from the key frame at ``start_ns`` (see :meth:`start_for`) on,
        up to ``until_ns`` inclusive when given."""
        started = False
        for gop in self._gops:
            if not started:
                if gop[0].pts_ns != start_ns:
                    continue
                started = True
            for p in gop:
                if until_ns is not None and p.pts_ns > until_ns:
                    return
                yield p
