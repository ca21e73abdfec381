"""Write failures: reported once, counted, retried with back-off.

A writer that hits a full disk, a read-only or vanished file or an I/O
error does not raise into the pipeline: it calls :meth:`WriteHealth.failed`
(one log line per failure episode, not one per frame), drops what comes
while failed (counted), and tries again when :meth:`WriteHealth.retry_due`
says so: after 1 s, then 2, 4, ... up to 30 s. :meth:`WriteHealth.state`
is the snapshot stats, ``/healthz`` and the exit summary read.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class WriteState:
    """What a writer reports about itself (JSON-ready with :meth:`to_json`)."""

    what: str
    """``recording``, ``detections log``..."""
    ok: bool
    reason: str | None
    """Why it is failing (``No space left on device (ENOSPC)``); None when ok."""
    path: str | None
    """The file being written, or the last one when failed."""
    files: int
    """Files opened so far (segments, rotations, files started after a failure)."""
    written: int
    """Units (frames, lines) in files, as far as known: a frame counts once it
    reached the file, or is in the part that is written at close."""
    dropped: int
    """Units dropped because writing had failed, and units lost with a failed write."""
    failures: int
    """Failure episodes (each reported by one log line)."""
    retry_in_s: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def describe(error: BaseException | str) -> str:
    """``No space left on device (ENOSPC)``: the reason as a user reads it."""
    if isinstance(error, str):
        return error
    code = getattr(error, "errno", None)
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    name = errno.errorcode.get(code) if isinstance(code, int) else None
    return f"{text} ({name})" if name and name not in text else str(text)


class WriteHealth:
    """Failure state, counters and back-off of one writer (thread-safe reads)."""

    def __init__(
        self,
        what: str,
        unit: str = "frames",
        *,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.unit = unit
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._path: str | None = None
        self._files = 0
        self._written = 0
        self._dropped = 0
        self._failures = 0
        self._delay_s = 0.0
        self._retry_at = 0.0
        self._ok_since = clock()
        self._last_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self._reason is None

    def opened(self, path: str) -> None:
        """A new file was created and is being written."""
        with self._lock:
            self._path = path
            self._files += 1

    def wrote(self, n: int = 1) -> None:
        self._written += n

    def dropped(self, n: int = 1) -> None:
        self._dropped += n

    def lost(self, n: int) -> None:
        """``n`` units counted as written never reached the file (failed write)."""
        with self._lock:
            n = min(n, self._written)
            self._written -= n
            self._dropped += n

    def failed(self, error: BaseException | str, path: str | None = None) -> None:
        """Writing failed: log once per episode, schedule the next try."""
        reason = describe(error)
        now = self._clock()
        with self._lock:
            first = self._reason is None
            again = False
            if first:
                # Back-off grows across episodes that come soon after a recovery.
                quiet = now - self._ok_since >= self.max_backoff_s
                # the same failure right after a short recovery (retention freed a
                # little room, then the disk filled again): one episode to a reader
                again = not quiet and reason == self._last_reason
                self._delay_s = (
                    self.initial_backoff_s if quiet or not self._delay_s else self._delay_s
                )
                if not again:  # episodes: a flap is part of the one before
                    self._failures += 1
            else:
                self._delay_s = min(self._delay_s * 2, self.max_backoff_s)
            self._reason = reason
            self._last_reason = reason
            self._path = path or self._path
            self._retry_at = now + self._delay_s
        if first and again:
            log.info("%s: failing again (%s); next try in %.0f s", self.what, reason, self._delay_s)
        elif first:
            log.error(
                "%s %s: %s; %s dropped until it can write again (retrying from %.0f s, up to every %.0f s)",
                self.what, path or self._path or "", reason, self.unit,
                self._delay_s, self.max_backoff_s,
            )  # fmt: skip
        else:
            log.debug(
                "%s: still failing (%s); next try in %.0f s", self.what, reason, self._delay_s
            )

    def retry_due(self) -> bool:
        """True when ok, or failed and the back-off delay has passed."""
        return self._reason is None or self._clock() >= self._retry_at

    def recovered(self) -> None:
        """A write after a failure worked: log it once."""
        if self._reason is None:
            return
        with self._lock:
            reason, self._reason = self._reason, None
            self._ok_since = self._clock()
        log.warning(
            "%s %s: writing again (after: %s; %d %s dropped so far)",
            self.what, self._path or "", reason, self._dropped, self.unit,
        )  # fmt: skip

    def state(self) -> WriteState:
        with self._lock:
            retry = None
            if self._reason is not None:
                retry = max(0.0, self._retry_at - self._clock())
            return WriteState(
                what=self.what,
                ok=self._reason is None,
                reason=self._reason,
                path=self._path,
                files=self._files,
                written=self._written,
                dropped=self._dropped,
                failures=self._failures,
                retry_in_s=retry,
            )
