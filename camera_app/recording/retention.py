"""Retention: bounded outputs on a small card.

One policy for recordings, clips, snapshots and logs: files in a folder
matching a pattern are deleted oldest first (by modification time) when
they are older than ``retain_days``, while their total exceeds
``max_bytes``, and while the file system has less than ``min_free_bytes``
free. The files being written (``keep``) are never deleted. Writers apply
it when they start a new file (a segment, a rotation, a retry after a full
disk): cheap, and never per frame.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retention:
    retain_days: float | None = None
    max_bytes: int | None = None
    """Total size of the matching files; the file being written counts too."""
    min_free_bytes: int | None = None
    pattern: str = "*"
    """Which files in the folder are governed (``*.mp4``, ``detections*.jsonl``)."""

    def validate(self) -> None:
        for name in ("retain_days", "max_bytes", "min_free_bytes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if not self.pattern or "/" in self.pattern:
            raise ValueError(f"pattern must be a file name pattern, got {self.pattern!r}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.retain_days, self.max_bytes, self.min_free_bytes))

    def apply(
        self, directory: Path, keep: Collection[Path] = (), now_s: float | None = None
    ) -> list[Path]:
        """Delete what the policy says, oldest first; returns the deleted paths."""
        if not self.active:
            return []
        kept = {os.path.abspath(p) for p in keep}
        files = _listing(directory, self.pattern)
        total = sum(size for _, size, _ in files)
        deletable = [f for f in files if os.path.abspath(f[2]) not in kept]
        deleted: list[Path] = []
        freed = 0

        def delete(entry: tuple[float, int, Path]) -> None:
            nonlocal total, freed
            try:
                entry[2].unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("retention: cannot delete %s (%s)", entry[2], e.strerror)
                return
            deleted.append(entry[2])
            total -= entry[1]
            freed += entry[1]

        now = time.time() if now_s is None else now_s
        while deletable and self.retain_days is not None:
            if deletable[0][0] >= now - self.retain_days * 86400:
                break
            delete(deletable.pop(0))
        while deletable and self.max_bytes is not None and total > self.max_bytes:
            delete(deletable.pop(0))
        if self.min_free_bytes is not None:
            free = _free_bytes(directory)
            while deletable and free is not None and free < self.min_free_bytes:
                before = freed
                delete(deletable.pop(0))
                free += freed - before
        if deleted:
            log.debug(
                "retention: deleted %d old file(s) (%.1f MB) in %s",
                len(deleted), freed / 1e6, directory,
            )  # fmt: skip
        return deleted


def _listing(directory: Path, pattern: str) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of the regular files matching, oldest first."""
    out = []
    try:
        paths = list(directory.glob(pattern))
    except OSError:
        return []
    for path in paths:
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        out.append((st.st_mtime, st.st_size, path))
    out.sort(key=lambda e: (e[0], e[2].name))
    return out


def _free_bytes(directory: Path) -> int | None:
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
