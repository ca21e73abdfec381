"""The recordings on the run's HTTP server (``[sinks.record] dir``).

``GET /api/recordings``: the recordings in the folder, newest first::

    {"recordings": [{"name": "2026-11-29T14-02-05Z.mp4", "size_bytes": 1843200,
      "start_utc": "2026-11-29T14:02:05Z", "duration_s": 60.0,
      "recording": false, "url": "/recordings/2026-11-29T14-02-05Z.mp4"}, ...]}

``start_utc`` comes from the name (null for a name not made by the
recorder), ``duration_s`` from the file (null for the file being written,
``recording`` true, or one that cannot be read); it is read once per file
version and cached.

``GET /recordings/<name>``: the file, with single byte ranges (what a
``<video>`` element needs to seek), through
:func:`camera_app.http.files.serve_file`. Only names in the folder that
match the recordings' pattern are served. Both routes follow the server's
token and ``Host`` rules.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import av
import av.error

from camera_app.http import (
    HttpServer,
    Request,
    Response,
    json_response,
    serve_named,
)
from camera_app.recording.recorder import SegmentedRecorder

log = logging.getLogger(__name__)

STAMP_RE = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)Z")
MAX_CACHED = 4096


def add_recording_routes(server: HttpServer, recorder: SegmentedRecorder) -> None:
    listing = RecordingsListing(recorder)

    def recordings(request: Request) -> Response:
        return json_response(200, {"recordings": listing.entries()})

    def recording(request: Request) -> Response:
        return serve_named(request, listing.directory, listing.is_ours)

    server.add_route("GET", "/api/recordings", recordings)
    server.add_route("GET", "/recordings/*", recording)


class RecordingsListing:
    """The recorder's folder as the routes show it; durations cached per file version."""

    def __init__(self, recorder: SegmentedRecorder) -> None:
        self.recorder = recorder
        self.directory = recorder.naming.directory
        self.pattern = recorder.naming.glob()
        self._lock = threading.Lock()
        self._durations: dict[tuple[str, int, int], float | None] = {}

    def is_ours(self, name: str) -> bool:
        """A file name the recorder writes (a segment, not anything in the folder)."""
        return fnmatch.fnmatchcase(name, self.pattern)

    def entries(self) -> list[dict[str, Any]]:
        current = self.recorder.path
        out = []
        try:
            scanned = list(os.scandir(self.directory))
        except OSError as err:
            log.debug("recordings %s: cannot list (%s)", self.directory, err)
            return []
        for entry in scanned:
            if not self.is_ours(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            writing = current is not None and current.name == entry.name
            key = (entry.name, st.st_size, st.st_mtime_ns)
            out.append(
                {
                    "name": entry.name,
                    "size_bytes": st.st_size,
                    "start_utc": start_utc(entry.name),
                    "duration_s": None if writing else self._duration(key, Path(entry.path)),
                    "recording": writing,
                    "url": "/recordings/" + quote(entry.name),
                    "_mtime": st.st_mtime_ns,
                }
            )
        out.sort(key=lambda r: (r["start_utc"] or "", r["_mtime"], r["name"]), reverse=True)
        for item in out:
            del item["_mtime"]
        self._forget_missing({str(item["name"]) for item in out})
        return out

    def _duration(self, key: tuple[str, int, int], path: Path) -> float | None:
        with self._lock:
            if key in self._durations:
                return self._durations[key]
        duration = probe_duration_s(path)
        with self._lock:
            if len(self._durations) >= MAX_CACHED:
                self._durations.clear()
            self._durations[key] = duration
        return duration

    def _forget_missing(self, names: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._durations if k[0] not in names]:
                del self._durations[key]


def start_utc(name: str) -> str | None:
    """``2026-11-29T14:02:05Z`` from a name holding the recorder's time stamp."""
    m = STAMP_RE.search(name)
    return f"{m.group(1)}T{m.group(2)}:{m.group(3)}:{m.group(4)}Z" if m else None


def probe_duration_s(path: Path) -> float | None:
    """The video's duration: the container's, else first to last packet (a
    file cut short by a kill has no index). None when it cannot be read."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if container.duration:
                return round(container.duration / av.time_base, 3)
            tb = stream.time_base
            first = end = None
            for packet in container.demux(stream):
                if packet.pts is None or tb is None:
                    continue
                first = packet.pts if first is None else min(first, packet.pts)
                stop = packet.pts + (packet.duration or 0)
                end = stop if end is None else max(end, stop)
            if first is None or end is None or tb is None:
                return None
            return round(float((end - first) * tb), 3)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        log.debug("recording %s: no duration (%s)", path, e)
        return None
