"""A real ``PacketBus`` that also records what went over it, for tests.

Tests put ``tests/fakes`` on ``sys.path`` and ``from recording_bus import
RecordingBus``. Every ``announce``, ``withdraw`` (that took effect) and
``publish`` is appended to :attr:`RecordingBus.log` in order, as
``("announce", producer, stream)``, ``("withdraw", producer)`` and
``("packet", EncodedPacket)``; :meth:`wait_for` blocks on a condition over
the log (no sleeps).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from camera_app.clips.packets import EncodedPacket, PacketBus, StreamInfo

Entry = tuple[Any, ...]


class RecordingBus(PacketBus):
    """``subscribed``: the recorder subscribes like a clip writer would (``wanted``)."""

    def __init__(self, subscribed: bool = True) -> None:
        super().__init__()
        self.log: list[Entry] = []
        self._changed = threading.Condition()
        if subscribed:
            self.subscribe(lambda packet: None)

    def _record(self, entry: Entry) -> None:
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()

    def announce(self, producer: str, stream: StreamInfo) -> None:
        super().announce(producer, stream)
        self._record(("announce", producer, stream))

    def withdraw(self, producer: str | None = None) -> None:
        before = self.producer
        super().withdraw(producer)
        if before is not None and self.producer is None:
            self._record(("withdraw", before))

    def publish(self, packet: EncodedPacket) -> None:
        self._record(("packet", packet))
        super().publish(packet)

    def wait_for(self, condition: Callable[[list[Entry]], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition(self.log):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"bus: condition not met within {timeout_s} s: {self.kinds()}"
                    )
                self._changed.wait(left)

    def packets(self) -> list[EncodedPacket]:
        with self._changed:
            return [e[1] for e in self.log if e[0] == "packet"]

    def kinds(self) -> str:
        """The log squeezed: ``announce packet*12 withdraw ...``."""
        with self._changed:
            out: list[str] = []
            for entry in self.log:
                kind = entry[0]
                if out and out[-1].split("*")[0] == kind == "packet":
                    n = int(out[-1].partition("*")[2] or 1)
                    out[-1] = f"packet*{n + 1}"
                else:
                    out.append(kind)
            return " ".join(out)
