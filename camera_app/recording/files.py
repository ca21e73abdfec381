"""Output files that never overwrite: exclusive creation, names by start time.

Every file this package writes is created with ``O_CREAT | O_EXCL``: an
existing path is never truncated. When the wanted name is taken, the next
candidate is the name with the start time in UTC (``out-2026-11-29T14-02-05Z.mp4``)
and then a counter (``...Z-1.mp4``).

:class:`OutputFile` is the file object the muxer writes through: whole
buffers (a short write is retried until done or an ``OSError``), the offset
of the last complete unit (``mark_good`` / ``truncate_to_good``, so a failed
write leaves no torn tail), and ``check()`` which notices that the file was
deleted or replaced under us (its inode no longer at its path).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

MAX_CANDIDATES = 1000
STAMP_FORMAT = "%Y-%m-%dT%H-%M-%SZ"


def utc_stamp(wall_s: float) -> str:
    """``2026-11-29T14-02-05Z``: sortable, and valid in every file system."""
    return datetime.fromtimestamp(wall_s, UTC).strftime(STAMP_FORMAT)


def stamped_names(
    directory: Path, stem: str, suffix: str, wall_s: float, sep: str = "-"
) -> Iterator[Path]:
    """``stem-STAMP.sfx``, ``stem-STAMP-1.sfx``, ... (no ``stem-`` when stem is empty)."""
    base = f"{stem}{sep}{utc_stamp(wall_s)}" if stem else utc_stamp(wall_s)
    yield directory / f"{base}{suffix}"
    for i in range(1, MAX_CANDIDATES):
        yield directory / f"{base}-{i}{suffix}"


class Naming:
    """Where the next file goes: a fixed path first, or names by start time.

    ``Naming.fixed(path)`` yields ``path`` and, when it exists, ``stem-STAMP.sfx``
    beside it; ``Naming.timed(directory, suffix)`` yields ``[prefix]STAMP.sfx``.
    """

    def __init__(self, directory: Path, stem: str, suffix: str, fixed: bool) -> None:
        self.directory = directory
        self.stem = stem
        self.suffix = suffix
        self.fixed = fixed

    @classmethod
    def fixed_path(cls, path: Path | str) -> Naming:
        p = Path(path)
        return cls(p.parent, p.stem, p.suffix, fixed=True)

    @classmethod
    def timed(cls, directory: Path | str, suffix: str, prefix: str = "") -> Naming:
        return cls(Path(directory), prefix, suffix, fixed=False)

    def candidates(self, wall_s: float) -> Iterator[Path]:
        if self.fixed:
            yield self.directory / f"{self.stem}{self.suffix}"
            yield from stamped_names(self.directory, self.stem, self.suffix, wall_s)
        else:
            yield from stamped_names(self.directory, self.stem, self.suffix, wall_s, sep="")

    def glob(self) -> str:
        """A pattern matching every name this produces (for retention)."""
        return f"{self.stem}*{self.suffix}"


def create_exclusive(candidates: Iterable[Path], mode: int = 0o644) -> tuple[int, Path]:
    """Create the first candidate that does not exist; never opens an existing file.

    Raises ``FileExistsError`` when every candidate exists and ``OSError``
    for anything else (no such folder, permission, read-only file system).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    last: Path | None = None
    for path in candidates:
        last = path
        try:
            return os.open(path, flags, mode), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "every candidate name exists", str(last))


class FileGoneError(OSError):
    """The file being written was deleted or replaced by another file."""


def check_identity(fd: int, path: Path, ino: int) -> None:
    """Raise :class:`FileGoneError` unless ``fd`` is still the file at ``path``."""
    if os.fstat(fd).st_nlink == 0:
        raise FileGoneError(errno.ENOENT, "file was deleted while being written", str(path))
    try:
        current = os.stat(path).st_ino
    except FileNotFoundError:
        current = -1
    if current != ino:
        raise FileGoneError(
            errno.ENOENT, "file was moved or replaced while being written", str(path)
        )


class OutputFile:
    """A file we created, written by whole buffers; PyAV writes through it.

    ``write`` returns only once every byte is written (``os.write`` may write
    part of a buffer on a nearly full disk) or raises ``OSError``; a write of
    0 bytes is reported as ``ENOSPC``. It has no ``close`` attribute on
    purpose: PyAV would call it when the container closes, and the file must
    stay open until the tail is checked (:meth:`release`).
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path
        self._ino = os.fstat(fd).st_ino
        self.bytes_written = 0
        self.good_offset = 0
        """End of the last complete unit (fragment, line): where a failed write is cut back to."""
        self.released = False
        self._rejecting = False

    @classmethod
    def create(cls, candidates: Iterable[Path]) -> OutputFile:
        fd, path = create_exclusive(candidates)
        return cls(fd, path)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._rejecting:
            raise OSError(errno.EIO, "writing stopped after a failure", str(self.path))
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            n = os.write(self.fd, view[done:])
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
            done += n
        self.bytes_written += done
        return done

    def reject_writes(self) -> None:
        """From now on every write fails (closing a muxer after a failure)."""
        self._rejecting = True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def mark_good(self) -> None:
        """The data written so far is complete (a fragment, a line)."""
        self.good_offset = self.tell()

    def truncate_to_good(self) -> None:
        """Cut a torn tail back to the last complete unit (best effort)."""
        try:
            os.ftruncate(self.fd, self.good_offset)
            os.lseek(self.fd, self.good_offset, os.SEEK_SET)
        except OSError:
            pass

    def check(self) -> None:
        """Raise :class:`FileGoneError` when the file was deleted or replaced."""
        check_identity(self.fd, self.path, self._ino)

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def release(self) -> None:
        """Close the descriptor (idempotent)."""
        if not self.released:
            self.released = True
            os.close(self.fd)

    def remove(self) -> None:
        """Close and delete the file (only for files with nothing worth keeping)."""
        try:
            if os.stat(self.path).st_ino == self._ino:
                os.unlink(self.path)
        except OSError:
            pass
        self.release()
