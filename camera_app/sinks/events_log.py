"""The events log: one JSON object per object event (``[events] path``, ``--events``).

Each line is ``ObjectEvent.to_json()``, written whole: a write that fails
half-way is cut back to the last complete line, so the file is valid JSON
Lines up to its end. An existing file is appended to, never truncated (a
torn last line left by a crash is closed with a newline first). A failed
write does not stop the run: it is logged once, the lines wait in a bounded
queue and are retried with back-off. The file is bounded: past
``max_bytes`` it is renamed to ``<path>.1`` (older ones shift to ``.2``...,
beyond ``keep`` they are deleted) and a new one is started.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from camera_app.analysis.events import EventsConfig
from camera_app.components import Flag
from camera_app.errors import SinkError
from camera_app.events import Event, ObjectEvent
from camera_app.recording.health import WriteHealth
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.sinks.jsonl import check_output_path
from camera_app.stats import OutputHealth, PipelineStats

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
"""Lines kept while writing fails; older ones are dropped (and counted) beyond this."""

CONFIG = EventsConfig
FLAGS = (
    Flag(
        "--events",
        "path",
        "write object events (new/update/end) as JSON Lines, appended (- for stdout)",
        metavar="FILE|-",
        implies={"enabled": True},
    ),
)


def build(config: EventsConfig, ctx: BuildContext) -> EventsLogSink | None:
    if not (config.enabled and config.path):
        return None
    return EventsLogSink.from_config(config)


def uses_tracks(config: EventsConfig) -> bool:
    return bool(config.enabled and config.path)


def describe(config: EventsConfig) -> str | None:
    return f"events log {config.path}" if config.enabled and config.path else None


class EventsLogSink(BaseSink):
    name = "events"
    wants_gated = False  # events only (idle() flushes)

    def __init__(
        self,
        path: str,
        max_bytes: int = 50_000_000,
        keep: int = 5,
        *,
        health: WriteHealth | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._stdout = path == "-"
        if not self._stdout:
            check_output_path(Path(path), "events log")
        self.health = health or WriteHealth("events log", "events")
        self._fd: int | None = None
        self._pending: collections.deque[bytes] = collections.deque()

    @classmethod
    def from_config(cls, config: EventsConfig) -> EventsLogSink:
        if config.path is None:
            raise SinkError("events log: no path ([events] path or --events FILE)")
        return cls(config.path, config.max_bytes, config.keep)

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        stats.register_output(self.name, self.output_health)
        if not self._stdout:
            try:
                self._open()
            except OSError as e:
                raise SinkError(f"events log {self.path}: cannot be opened ({e.strerror})") from e

    def output_health(self) -> OutputHealth:
        s = self.health.state()
        return OutputHealth(s.ok, s.reason or "", s.written, s.failures)

    def _open(self) -> int:
        if self._fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(self.path, flags, 0o644)
            try:
                regular = stat.S_ISREG(os.fstat(fd).st_mode)
                if regular and _last_byte(self.path) not in (b"", b"\n"):
                    _write_all(fd, b"\n")  # close a line torn by an earlier crash
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
            self.health.opened(self.path)
        return self._fd

    def on_event(self, event: Event) -> None:
        if not isinstance(event, ObjectEvent):
            return
        line = json.dumps(event.to_json(), separators=(",", ":")) + "\n"
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self.health.dropped()
        self._pending.append(line.encode("utf-8"))
        self._flush()

    def handle(self, result: FrameResult) -> None:
        if self._pending:
            self._flush()

    def idle(self) -> None:
        if self._pending:
            self._flush()

    def _flush(self, force: bool = False) -> None:
        if not force and not self.health.retry_due():
            return
        while self._pending:
            line = self._pending[0]
            try:
                self._write_line(line)
            except OSError as e:
                self.health.failed(e, self.path)
                return
            self._pending.popleft()
            self.health.wrote()
            self.health.recovered()

    def _write_line(self, line: bytes) -> None:
        if self._stdout:
            sys.stdout.write(line.decode("utf-8"))
            sys.stdout.flush()
            return
        fd = self._open()
        good = os.fstat(fd).st_size
        try:
            _write_all(fd, line)
        except OSError:
            try:
                os.ftruncate(fd, good)  # no torn line: back to the last whole one
            except OSError:
                pass
            raise
        if good + len(line) >= self.max_bytes and stat.S_ISREG(os.fstat(fd).st_mode):
            self._rotate()

    def _rotate(self) -> None:
        """``path`` -> ``path.1`` -> ``path.2``...; the oldest beyond ``keep`` is deleted."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        oldest = Path(f"{self.path}.{self.keep}")
        if oldest.exists():
            oldest.unlink()
        for n in range(self.keep - 1, 0, -1):
            src = Path(f"{self.path}.{n}")
            if src.exists():
                src.rename(f"{self.path}.{n + 1}")
        os.rename(self.path, f"{self.path}.1")
        log.info("events log %s: rotated to %s.1", self.path, self.path)

    def close(self) -> None:
        if self._pending:
            self._flush(force=True)
            if self._pending:
                log.error(
                    "events log %s: %d events could not be written", self.path, len(self._pending)
                )
                self.health.dropped(len(self._pending))
                self._pending.clear()
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            except OSError:
                pass
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Every byte or an ``OSError`` (a write of 0 bytes counts as a full disk)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(28, "No space left on device")
        view = view[n:]


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return b""
        f.seek(-1, os.SEEK_END)
        return f.read(1)
