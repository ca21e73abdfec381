"""What native libraries print, captured into the debug log.

libjpeg ("Premature end of JPEG file"), FFmpeg ("moov atom not found",
"Connection ... failed: Connection refused") and OpenCV's own log ("[ WARN:0]
global cap.cpp ... can't be used to capture by name") write straight to file
descriptor 2, past Python's ``sys.stderr``: one bad input became two or
three lines. Wrap each native call that may talk::

    with native_output(f"video {path}") as out:
        cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"video {path}: cannot be opened{out.because()}")

Inside the block fd 2 points into an anonymous temporary file; afterwards
the text is logged at debug level and ``out.reason()`` gives its most telling
line for the one-line error.

Threads: fd 2 is process-wide, so while one thread is inside a block,
everything any thread writes to fd 2 is captured. Python's own output must
not be: the first block (or :func:`detach_python_stderr`, which the CLI can
call early) moves ``sys.stderr`` and the logging handlers writing to it onto
a private duplicate of fd 2, which redirecting fd 2 does not affect. Blocks
may overlap (a capture thread reading a stream while another decodes): fd 2
stays redirected until the last one ends, and each block gets what was
written since it began, so text written while two overlap is logged by both.

Limits: a native library that aborts the process inside a block loses its
last message (the file is anonymous); C code that kept its own copy of
fd 2 is not captured; when fd 2 is not open, nothing is redirected.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

log = logging.getLogger(__name__)

MAX_CAPTURE_BYTES = 1 << 20
"""The capture file is emptied once it holds this much (overlapping blocks
that never all end at once, a library printing on every frame)."""
MAX_REASON_CHARS = 160

# "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55829c256a40] " FFmpeg's context prefix
_FFMPEG_PREFIX = re.compile(r"^\[[^\]@]+ @ 0x[0-9a-fA-F]+\]\s*")
# "[ WARN:0@0.230] global cap.cpp:212 open " OpenCV's log prefix
_OPENCV_LOG = re.compile(r"^\[\s*(?:WARN|INFO|ERROR|DEBUG|FATAL|VERBOSE):[^\]]*\]\s*")


class NativeOutput:
    """What native code wrote to fd 2 inside one :func:`native_output` block."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.text = ""
        """Everything captured, possibly empty; set when the block ends."""

    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    def reason(self) -> str | None:
        """The most telling line, prefixes removed: the first library message
        (FFmpeg, libjpeg) rather than OpenCV's own log, which only says that
        a backend failed. None when nothing was printed."""
        lines = self.lines()
        plain = [line for line in lines if not _OPENCV_LOG.match(line)]
        chosen = plain[0] if plain else (lines[0] if lines else None)
        if chosen is None:
            return None
        chosen = _OPENCV_LOG.sub("", _FFMPEG_PREFIX.sub("", chosen)).strip()
        if len(chosen) > MAX_REASON_CHARS:
            chosen = chosen[: MAX_REASON_CHARS - 3] + "..."
        return chosen or None

    def because(self) -> str:
        """``": <reason>"`` to append to an error message, or ``""``."""
        reason = self.reason()
        return f": {reason}" if reason else ""


class _Redirect:
    """Process-wide state: the capture file and how many blocks are open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved_fd: int | None = None
        """While blocks are open: a duplicate of what fd 2 was before the first."""
        self.capture_fd: int | None = None
        self.disabled = False

    def enter(self) -> int | None:
        """Redirect fd 2 (if first) and return where this block's text begins;
        None when fd 2 cannot be redirected (it is not open)."""
        detach_python_stderr()
        with self.lock:
            if self.disabled:
                return None
            if self.depth == 0:
                try:
                    self.saved_fd = os.dup(2)  # each time: someone may have replaced fd 2
                except OSError:
                    log.debug("fd 2 is not open: native output is not captured")
                    self.disabled = True
                    return None
                if self.capture_fd is None:
                    with tempfile.TemporaryFile(prefix="camera-app-native-") as f:
                        self.capture_fd = os.dup(f.fileno())  # keeps the unlinked file
                os.dup2(self.capture_fd, 2)
            assert self.capture_fd is not None
            self.depth += 1
            return os.fstat(self.capture_fd).st_size

    def leave(self, start: int | None) -> bytes:
        if start is None:
            return b""
        with self.lock:
            fd = self.capture_fd
            assert fd is not None
            end = os.fstat(fd).st_size
            data = os.pread(fd, min(end - start, MAX_CAPTURE_BYTES), start) if end > start else b""
            self.depth -= 1
            if self.depth == 0:
                saved, self.saved_fd = self.saved_fd, None
                assert saved is not None
                os.dup2(saved, 2)
                os.close(saved)
            if end and (self.depth == 0 or end >= MAX_CAPTURE_BYTES):
                # Nothing writes into it now (or we accept losing what an
                # overlapping block would have read): start over at offset 0.
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
            return data


_redirect = _Redirect()
_detach_lock = threading.Lock()


@contextmanager
def native_output(what: str) -> Iterator[NativeOutput]:
    """Capture what native code writes to fd 2 inside the block.

    ``what`` names the thing being opened or decoded, for the debug log.
    Thread-safe, re-entrant, and cheap (a few system calls).
    """
    out = NativeOutput(what)
    start = _redirect.enter()
    try:
        yield out
    finally:
        out.text = _redirect.leave(start).decode("utf-8", "replace")
        if out.text.strip():
            log.debug("%s: native output: %s", what, " | ".join(out.lines()))


def detach_python_stderr() -> None:
    """Move Python's stderr off fd 2, onto a private duplicate of it.

    Afterwards ``sys.stderr`` and every logging handler that wrote to it
    write to the same terminal, file or journal as before, but redirecting
    fd 2 around a native call no longer captures them. Only acts when
    ``sys.stderr`` really is fd 2 (not under pytest's capture, not when an
    application replaced it); idempotent.
    """
    with _detach_lock:
        old = sys.stderr
        if old is None or _fileno(old) != 2:
            return
        try:
            fd = os.dup(2)
        except OSError:
            return
        buffer = io.BufferedWriter(io.FileIO(fd, "w", closefd=True))
        new = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            line_buffering=True,
            write_through=True,
        )
        old.flush()
        sys.stderr = new
        for handler in _stream_handlers():
            if handler.stream is old or _fileno(handler.stream) == 2:
                handler.setStream(new)
        log.debug("Python's stderr moved to fd %d; fd 2 is left to native libraries", fd)


def _fileno(stream: TextIO | None) -> int | None:
    try:
        return stream.fileno() if stream is not None else None
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def _stream_handlers() -> list[logging.StreamHandler[TextIO]]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    return [
        h
        for lg in loggers
        for h in lg.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
