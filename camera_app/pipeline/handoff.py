"""A bounded queue between two threads, and the stop signal workers raise."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
POLL_S = 0.1
"""How often a waiting worker checks the stop events."""


class Stopped(Exception):
    """Raised inside a thread when the pipeline is stopping."""


class HandOff(Generic[T]):
    """A bounded queue between two threads.

    ``drop_oldest=True``: ``put`` never blocks; when full the oldest item is
    dropped and counted. Otherwise ``put`` waits for room, checking ``stop``.
    ``force`` items (end markers, events) never wait and are never dropped:
    they are rare, so the bound still holds in practice.

    :attr:`unfinished` counts items put and not yet finished: a consumer
    that calls :meth:`task_done` after each item it got (as
    ``queue.Queue``) makes ``unfinished == 0`` mean "nothing queued and
    nothing being worked on"; dropped items count as finished.
    """

    def __init__(
        self,
        capacity: int,
        drop_oldest: bool,
        stop: threading.Event,
        on_drop: Callable[[int], None] | None = None,
        keep: Callable[[T], bool] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._items: deque[T] = deque()
        self._forced: set[int] = set()
        self.capacity = capacity
        self.drop_oldest = drop_oldest
        self._stop = stop
        self._cond = threading.Condition()
        self._on_drop = on_drop
        self.unfinished = 0
        self._keep = keep
        """Items to drop last (frames the gate chose to infer: dropping one
        would silently lose a keep-alive or a detect-rate slot)."""

    def put(self, item: T, force: bool = False) -> None:
        """Add an item; ``force`` never waits and is never dropped."""
        with self._cond:
            if not force:
                while len(self._items) >= self.capacity:
                    if self.drop_oldest and self._drop_one():
                        continue
                    if self._stop.is_set():
                        raise Stopped
                    self._cond.wait(POLL_S)
            else:
                self._forced.add(id(item))
            self._items.append(item)
            self.unfinished += 1
            self._cond.notify_all()

    def _drop_one(self) -> bool:
        """Drop the oldest item that was not forced, one ``keep`` does not
        protect first; False if all were forced."""
        candidates = [i for i, item in enumerate(self._items) if id(item) not in self._forced]
        if not candidates:
            return False
        keep = self._keep
        unprotected = [i for i in candidates if keep is None or not keep(self._items[i])]
        del self._items[(unprotected or candidates)[0]]
        self.unfinished -= 1
        if self._on_drop:
            self._on_drop(1)
        return True

    def get(self, timeout_s: float) -> T:
        """The oldest item; raises ``TimeoutError`` if none within the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self._cond.wait(min(left, POLL_S))
            item = self._items.popleft()
            self._forced.discard(id(item))
            self._cond.notify_all()
            return item

    def task_done(self) -> None:
        """The consumer finished an item it got (see :attr:`unfinished`)."""
        with self._cond:
            self.unfinished -= 1

    def __len__(self) -> int:
        return len(self._items)
