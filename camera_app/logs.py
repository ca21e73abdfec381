"""Logging for a terminal or for journald, and the periodic status line.

Under systemd, stderr goes to the journal, which adds its own timestamps:
lines then carry a ``<N>`` syslog priority prefix instead (journald turns it
into the entry's priority, so ``journalctl -p warning`` works). Elsewhere
lines start with a timestamp.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from camera_app.stats import PipelineStats, status_line

log = logging.getLogger(__name__)

JOURNAL_ENV = "JOURNAL_STREAM"
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream systemd connected us to.

    ``JOURNAL_STREAM`` holds ``device:inode`` of that stream; comparing them
    with the stream's own (as sd_journal_stream_fd's docs advise) avoids
    taking a redirected stderr (``2>file``) for the journal.
    """
    value = (os.environ if environ is None else environ).get(JOURNAL_ENV, "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
        return st.st_dev == int(dev) and st.st_ino == int(ino)
    except (OSError, ValueError, AttributeError):
        return False


class JournalFormatter(logging.Formatter):
    """``<6>INFO: message``: a syslog priority prefix and no timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        text = super().format(record)
        # journald splits lines; give every one the record's priority.
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def make_handler(
    level: str, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> logging.Handler:
    out = sys.stderr if stream is None else stream
    name = " %(name)s" if level == "debug" else ""
    handler = logging.StreamHandler(out)
    if stream_is_journal(out, environ):
        handler.setFormatter(JournalFormatter(f"%(levelname)s{name}: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s{name}: %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    return handler


def setup_logging(
    level: str = "info", stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Route every log record to stderr (or ``stream``) at ``level``."""
    root = logging.getLogger()
    root.handlers[:] = [make_handler(level, stream, environ)]
    root.setLevel(getattr(logging, level.upper()))


class StatusReporter:
    """Logs the pipeline's status line every ``interval_s`` (0: never).

    The main thread calls ``tick(time.monotonic())`` from its loop; the first
    line comes one interval after the first tick.
    """

    def __init__(
        self,
        stats: PipelineStats,
        interval_s: float = 60.0,
        logger: logging.Logger | None = None,
    ) -> None:
        if interval_s < 0:
            raise ValueError(f"interval_s must be >= 0, got {interval_s}")
        self.stats = stats
        self.interval_s = interval_s
        self._log = logger or log
        self._next_s: float | None = None
        self.count = 0

    def tick(self, now_s: float) -> bool:
        """Log if an interval has passed; True when a line was logged."""
        if self.interval_s <= 0:
            return False
        if self._next_s is None:
            self._next_s = now_s + self.interval_s
            return False
        if now_s < self._next_s:
            return False
        while self._next_s <= now_s:
            self._next_s += self.interval_s
        self._log.info("%s", status_line(self.stats.snapshot()))
        self.count += 1
        return True
