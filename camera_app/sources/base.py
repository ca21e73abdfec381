"""The source protocol: every capture source is started, read and stopped."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Protocol, runtime_checkable

from camera_app.frames import Frame, SourceInfo

log = logging.getLogger(__name__)


@runtime_checkable
class Source(Protocol):
    """A capture source.

    ``start()`` opens the device/file/stream (raising ``SourceError`` with a
    one-line message when it cannot) and returns what it is. ``read()``
    returns the next frame, ``None`` at the end of a file, and raises
    ``SourceError`` when no frame arrived within ``timeout_s`` or the device
    failed. ``stop()`` releases everything and may be called more than once,
    from any thread; it also wakes a ``read()`` that is waiting.
    """

    @property
    def info(self) -> SourceInfo: ...

    def start(self) -> SourceInfo: ...

    def read(self, timeout_s: float = 2.0) -> Frame | None: ...

    def stop(self) -> None: ...


class BaseSource:
    """Shared plumbing: context manager, stop event, frame numbering."""

    kind = "source"

    def __init__(self, name: str) -> None:
        self.name = name
        self._info: SourceInfo | None = None
        self._stopping = threading.Event()
        self._next_id = 0

    @property
    def info(self) -> SourceInfo:
        if self._info is None:
            raise RuntimeError(f"source {self.name!r} is not started")
        return self._info

    def start(self) -> SourceInfo:  # pragma: no cover - overridden
        raise NotImplementedError

    def read(self, timeout_s: float = 2.0) -> Frame | None:  # pragma: no cover
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping.set()

    def _take_id(self) -> int:
        fid = self._next_id
        self._next_id += 1
        return fid

    def __enter__(self) -> BaseSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
