"""Files over HTTP with single byte ranges, as ``<video>`` seeking needs.

``serve_file(request, path)`` answers 200 (whole file), 206 (one range,
``Content-Range``), 416 (unsatisfiable, ``Content-Range: bytes */size``) or
404; ``Accept-Ranges: bytes`` always. Several ranges, a malformed ``Range``
or an ``If-Range`` that does not match are ignored (the whole file), as RFC
9110 allows. The body is sent with ``sendfile`` from the open file, so a
recording is never read into memory. Callers turn user-supplied names into
paths with :func:`safe_join`.
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from camera_app.http.messages import FileSlice, Request, Response, text

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".txt": "text/plain; charset=utf-8",
}
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
UNSATISFIABLE = (-1, -1)


def content_type(path: str | Path) -> str:
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def safe_join(root: str | Path, name: str) -> Path | None:
    """``root/name`` if it stays inside ``root`` (after symlinks), else None."""
    if not name or "\0" in name:
        return None
    base = Path(root).resolve()
    candidate = (base / name).resolve()
    return candidate if candidate != base and candidate.is_relative_to(base) else None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for as (first, last) inclusive; None to send
    the whole file; ``UNSATISFIABLE`` when it lies beyond the end."""
    if header is None:
        return None
    m = _RANGE_RE.match(header)
    if m is None:  # absent, several ranges, another unit: ignored
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        if not last:
            return None
        n = int(last)
        return UNSATISFIABLE if n == 0 or size == 0 else (max(0, size - n), size - 1)
    start = int(first)
    end = size - 1 if not last else int(last)
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)


def serve_named(
    request: Request,
    root: str | Path,
    accepts: Callable[[str], object],
    ctype: str | None = None,
) -> Response:
    """The file ``root/NAME`` for a route ending in ``*`` (``/clips/NAME``):
    404 unless NAME (URL-decoded) is one plain file name that ``accepts``
    and that stays inside ``root``."""
    name = unquote(request.route_tail)
    path = safe_join(root, name) if "/" not in name and accepts(name) else None
    return text(404, "not found") if path is None else serve_file(request, path, ctype)


def serve_file(request: Request, path: str | Path, ctype: str | None = None) -> Response:
    """The file at ``path`` (chosen by the caller, never straight from the URL)."""
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return text(404, "not found")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO, a device: never
        os.close(fd)
        return text(404, "not found")
    f = os.fdopen(fd, "rb")  # the response owns it; the server closes it
    size = st.st_size
    etag = f'"{size:x}-{st.st_mtime_ns:x}"'
    modified = email.utils.formatdate(st.st_mtime, usegmt=True)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": modified,
        "Cache-Control": "no-cache",
    }
    wanted = parse_range(request.header("Range"), size)
    if_range = request.header("If-Range")
    if if_range is not None and if_range.strip() not in (etag, modified):
        wanted = None  # the file changed since the client's copy: send it whole
    ctype = ctype or content_type(path)
    if wanted == UNSATISFIABLE:
        f.close()
        headers["Content-Range"] = f"bytes */{size}"
        return Response(416, b"range not satisfiable\n", headers=headers)
    if wanted is None:
        return Response(200, content_type=ctype, headers=headers, file=FileSlice(f, 0, size))
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    length = last - first + 1
    return Response(206, content_type=ctype, headers=headers, file=FileSlice(f, first, length))
