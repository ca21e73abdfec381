"""Append-only line logs (JSON Lines) that never keep a torn line.

* The file is opened ``O_APPEND`` and never truncated: a restart adds to
  the previous run's records (mark the start with :meth:`LineLog.write_marker`:
  ``{"event": "start", "utc": ..., "pid": ...}``). A file this log created
  and closed without writing a line is removed (a run that failed its
  start-up checks leaves nothing behind).
* Each line goes out in one ``os.write``; a failed or partial write is cut
  back (``ftruncate``) to the end of the last complete line, so every line
  in the file is whole. A torn last line left by a crash of an earlier run
  is removed when the file is opened.
* Rotation by size (``rotate_bytes``) or by UTC day (``rotate_daily``):
  the file is moved aside to ``stem-STAMP.suffix`` (its start time; the
  name is never one that exists) and a new file starts at ``path``, so a
  follower (``tail -F``) keeps reading the same name. Rotated files are
  governed by a :class:`Retention` (default pattern ``stem-*suffix``).
* Failures (full disk, read-only, deleted file) are handled like a
  recording's: one log line, lines dropped and counted, retried with
  back-off, :meth:`LineLog.state` for stats and ``/healthz``.

``path`` ``-`` writes to standard output (no rotation, no repair). When
the reader goes away (``camera-app run --jsonl - | head -3``) writing stops
quietly: :attr:`LineLog.reader_gone` turns True and lines are dropped
without an error (the caller decides whether to end the run).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camera_app.errors import SinkError
from camera_app.recording.files import check_identity, stamped_names, utc_stamp
from camera_app.recording.health import WriteHealth, WriteState, describe
from camera_app.recording.retention import Retention

log = logging.getLogger(__name__)

REPAIR_CHUNK = 64 * 1024


class LineLog:
    def __init__(
        self,
        path: str | Path,
        *,
        rotate_bytes: int | None = None,
        rotate_daily: bool = False,
        retention: Retention | None = None,
        what: str = "detections log",
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.stdout = str(path) == "-"
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.rotate_daily = rotate_daily
        self.retention = retention or Retention(pattern=f"{self.path.stem}-*{self.path.suffix}")
        self.what = what
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.health = WriteHealth(what, "lines", clock=clock)
        self._fd: int | None = None
        self._ino = 0
        self._size = 0
        self._started_s = 0.0
        self._next_check = 0.0
        self._opened = self._closed = False
        self._created = False  # this log created the file at ``path`` (and it is still empty)
        self.reader_gone = False
        """Standard output was closed by its reader (EPIPE)."""

    def validate(self) -> None:
        """Check the settings and the folder without creating anything (``SinkError``)."""
        if self.stdout:
            return
        if self.rotate_bytes is not None and self.rotate_bytes < 1024:
            raise SinkError(f"{self.what} {self.path}: rotate_bytes must be at least 1024")
        try:
            self.retention.validate()
        except ValueError as e:
            raise SinkError(f"{self.what} {self.path}: {e}") from e
        if self.path.is_dir():
            raise SinkError(f"{self.what} {self.path}: is a directory; expected a file path")
        if not self.path.parent.is_dir():
            raise SinkError(f"{self.what} {self.path}: folder {self.path.parent} does not exist")

    def open(self) -> None:
        """Open (append) or create the file; ``SinkError`` if it cannot be written."""
        if self._opened:
            return
        self.validate()
        if self.stdout:
            self._opened = True
            return
        try:
            self._open_file()
        except OSError as e:
            raise SinkError(f"{self.what} {self.path}: cannot be written ({describe(e)})") from e
        self._opened = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            except OSError:
                pass
            if self._created and self._size == 0:
                _remove_if_same(self.path, fd)
            os.close(fd)

    def __enter__(self) -> LineLog:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state(self) -> WriteState:
        return self.health.state()

    # -- writing -----------------------------------------------------------

    def write(self, record: Mapping[str, Any]) -> bool:
        """One JSON object as one line; False when it was dropped."""
        return self.write_line(json.dumps(record, separators=(",", ":")))

    def write_marker(self, kind: str = "start", **fields: Any) -> bool:
        """``{"event": "start", "utc": "2026-...+00:00", "pid": ..., **fields}``."""
        now = self._wall_clock()
        record = {
            "event": kind,
            "utc": datetime.fromtimestamp(now, UTC).isoformat(),
            "pid": os.getpid(),
        }
        return self.write({**record, **fields})

    def write_line(self, line: str) -> bool:
        """Append ``line`` (no newline in it) whole, or not at all."""
        if "\n" in line:
            raise ValueError("a log line cannot contain a newline")
        if self._closed or not self._opened or self.reader_gone:
            return False
        if self.stdout:
            return self._write_stdout(line + "\n")
        if self._fd is None and not self._retry():
            self.health.dropped()
            return False
        data = (line + "\n").encode()
        try:
            if self._rotation_due(len(data)):
                self._rotate()
            fd = self._fd
            assert fd is not None
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(errno.ENOSPC, f"short write ({n} of {len(data)} bytes)")
            self._size += n
            self.health.wrote()
            self.health.recovered()
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self.check_interval_s
                check_identity(fd, self.path, self._ino)
        except OSError as e:
            self._fail(e)
            self.health.dropped()
            return False
        return True

    def _write_stdout(self, text: str) -> bool:
        """Through ``sys.stdout`` (whatever it is now: a pipe, a test's capture)."""
        out = sys.stdout
        try:
            out.write(text)
            out.flush()
        except BrokenPipeError:
            self.reader_gone = True
            log.debug("%s: standard output was closed by its reader", self.what)
            _silence_stdout(out)
            return False
        except (OSError, ValueError) as e:  # ValueError: stdout closed
            if self.health.ok:
                self.health.failed(e if isinstance(e, OSError) else str(e), "-")
            self.health.dropped()
            return False
        self.health.wrote()
        self.health.recovered()
        return True

    # -- files ---------------------------------------------------------------

    def _open_file(self) -> None:
        flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            self._created = True
        except FileExistsError:
            fd = os.open(self.path, flags)
            self._created = False
        try:
            st = os.fstat(fd)
            self._size = _repair_tail(fd, st.st_size, self.path)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._ino = fd, st.st_ino
        self._started_s = (
            self._wall_clock() if st.st_size == 0 else min(st.st_mtime, self._wall_clock())
        )
        self._next_check = self._clock() + self.check_interval_s
        self.health.opened(str(self.path))

    def _retry(self) -> bool:
        if not self.health.retry_due():
            return False
        self.retention.apply(self.path.parent, keep=[self.path])
        try:
            self._open_file()
        except OSError as e:
            self.health.failed(e, str(self.path))
            return False
        return True

    def _rotation_due(self, nbytes: int) -> bool:
        if self._size == 0:
            return False
        if self.rotate_bytes is not None and self._size + nbytes > self.rotate_bytes:
            return True
        if self.rotate_daily:
            return utc_stamp(self._wall_clock())[:10] != utc_stamp(self._started_s)[:10]
        return False

    def _rotate(self) -> None:
        """Move the file aside under a name that does not exist, start a new one."""
        names = stamped_names(self.path.parent, self.path.stem, self.path.suffix, self._started_s)
        for target in names:
            try:
                os.link(self.path, target)
            except FileExistsError:
                continue
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                if target.exists():  # no hard links here (FAT): rename, checked
                    continue
                os.rename(self.path, target)
            else:
                os.unlink(self.path)
            break
        else:
            raise FileExistsError(errno.EEXIST, "no free name to rotate to", str(self.path))
        old, self._fd = self._fd, None
        if old is not None:
            os.close(old)
        log.debug("%s: rotated to %s", self.what, target)
        self.retention.apply(self.path.parent, keep=[self.path])
        self._open_file()

    def _fail(self, error: OSError) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, self._size)  # cut a torn line back
            except OSError:
                pass
            os.close(fd)
        self.health.failed(error, str(self.path))


def _silence_stdout(out: Any) -> None:
    """After EPIPE: point fd 1 at /dev/null so the interpreter's last flush of
    ``sys.stdout`` at exit does not print "Exception ignored ... BrokenPipeError"
    (what the Python docs advise for SIGPIPE)."""
    try:
        fd = out.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        return
    os.dup2(devnull, fd)
    os.close(devnull)


def _remove_if_same(path: Path, fd: int) -> None:
    """Unlink ``path`` if it is still the file open as ``fd`` (best effort)."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except OSError:
        pass


def _repair_tail(fd: int, size: int, path: Path) -> int:
    """Cut a last line without its newline (a crash mid-write); returns the size."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - REPAIR_CHUNK)
        chunk = os.pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            good = start + i + 1
            break
        end = start
    else:
        good = 0
    os.ftruncate(fd, good)
    log.warning("%s: removed a torn last line (%d bytes) left by an earlier run", path, size - good)
    return good
