"""Packets from the source's thread to the clips sink's thread.

The bus calls the subscriber on the producer's thread (picamera2's encoder
thread, the stream reader), which must never wait: :meth:`PacketInbox.put`
appends to a bounded queue and returns. The sink takes packets out on its
own thread, up to a time (:meth:`take`): the capture time of the newest
result it has handled, so a packet never reaches a clip before the events
raised on the frames before it (events and results reach the sink in
order; packets come straight from the camera, ahead of inference).
Beyond its bounds the oldest packets are dropped and counted.
"""

from __future__ import annotations

import threading
from collections import deque

from camera_app.clips.packets import EncodedPacket


class PacketInbox:
    def __init__(self, max_packets: int = 3000, max_bytes: int = 64_000_000) -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._queue: deque[EncodedPacket] = deque()
        self._bytes = 0
        self.dropped = 0

    def put(self, packet: EncodedPacket) -> None:
        """Never blocks (the producer's thread)."""
        with self._lock:
            self._queue.append(packet)
            self._bytes += len(packet.data)
            while self._queue and (
                len(self._queue) > self.max_packets or self._bytes > self.max_bytes
            ):
                self._bytes -= len(self._queue.popleft().data)
                self.dropped += 1

    def take(self, upto_ns: int | None = None) -> list[EncodedPacket]:
        """The packets up to ``upto_ns`` (all of them when None), oldest first."""
        out = []
        with self._lock:
            q = self._queue
            while q and (upto_ns is None or q[0].pts_ns <= upto_ns):
                p = q.popleft()
                self._bytes -= len(p.data)
                out.append(p)
        return out

    @property
    def newest_ns(self) -> int | None:
        with self._lock:
            return self._queue[-1].pts_ns if self._queue else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
