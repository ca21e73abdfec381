"""Recent object events on the run's HTTP server: ``/api/events`` and ``/snapshots/``.

The ``[sinks.events_api]`` component. When the run has an HTTP server
(``[http] listen`` / ``--http``, or the web preview), it keeps the last
``max_events`` events, one record per event (``new``, its ``update``\\ s and
its ``end`` merged: the latest fields win), and serves:

``GET /api/events[?limit=N]``
    ``{"events": [...], "count", "max_events", "version", "tracking"}``,
    newest first (by start time). Each record is the event's JSON (as in
    the events log, without ``type`` and ``changes``) plus ``state``
    (``active`` or ``ended``), ``updates`` (how many updates it had),
    ``snapshot_url`` (``/snapshots/<id>.jpg``, or null) and
    ``snapshot_version`` (bumped whenever the picture may have changed: a
    better snapshot, the end; add it to the URL to bypass a cached copy) and
    ``clip_url`` (``/clips/<name>`` when the event has a clip, else null). ``version`` grows with every event
    received, so a client can skip redrawing an unchanged list.
``GET /snapshots/<name>.jpg``
    A snapshot from ``[snapshots] dir`` (only names the snapshots sink
    writes; ranges honoured). The picture may lag its event by the time the
    snapshots sink takes to write it: a 404 then, the file a moment later.

Both follow the server's token and ``Host`` rules. Without a server the
component builds nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from camera_app.components import tracking_wanted
from camera_app.events import Event, ObjectEvent
from camera_app.http import HttpServer, Request, Response, json_response, serve_named
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.sinks.snapshots import SNAPSHOT_RE
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

SNAPSHOTS_PREFIX = "/snapshots/"


@dataclass(frozen=True, slots=True)
class EventsApiConfig:
    """[sinks.events_api] recent object events on the HTTP server (/api/events)."""

    enabled: bool = opt(True, "serve /api/events and /snapshots/ whenever the HTTP server runs")
    max_events: int = opt(200, "recent events kept, one record per event", ge=1, le=10_000)


CONFIG = EventsApiConfig


def build(config: EventsApiConfig, ctx: BuildContext) -> EventsApiSink | None:
    """On the run's HTTP server; None without one (or when disabled)."""
    if not config.enabled or ctx.http is None:
        return None
    snapshots = ctx.section("snapshots")
    return EventsApiSink(
        ctx.http,
        max_events=config.max_events,
        snapshots_dir=getattr(snapshots, "dir", None),
        tracking=tracking_wanted(ctx.config),
    )


def describe(config: EventsApiConfig) -> str | None:
    return None  # rides on the HTTP server, which check-config names already


def _clip_url(path: str | None) -> str | None:
    """``/clips/<name>`` (served by the clips sink) for an event's clip."""
    if not path:
        return None
    try:
        from camera_app.sinks.clips import clip_url
    except ImportError:  # a build without clips
        return None
    url: str | None = clip_url(path)
    return url


@dataclass(slots=True)
class _Record:
    start_epoch_ns: int
    json: dict[str, Any]
    updates: int = 0
    snapshot_version: int = 0


class EventsApiSink(BaseSink):
    """Keeps recent events and answers ``/api/events`` (see the module doc).

    ``on_event`` runs on the sink's thread and the routes on the server's
    handler threads: the records are swapped under a lock, and a request
    copies the list it serialises.
    """

    name = "events_api"
    lossless = False  # it reads events only, which are never dropped
    wants_gated = False  # events only

    def __init__(
        self,
        server: HttpServer,
        *,
        max_events: int = 200,
        snapshots_dir: str | os.PathLike[str] | None = None,
        tracking: bool = True,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.server = server
        self.max_events = max_events
        self.snapshots_dir = None if snapshots_dir is None else os.fspath(snapshots_dir)
        self.tracking = tracking
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._version = 0
        self.events_received = 0
        server.add_route("GET", "/api/events", self._api_events)
        if self.snapshots_dir is not None:
            server.add_route("GET", SNAPSHOTS_PREFIX + "*", self._snapshot)

    # -- pipeline side -----------------------------------------------------
    def handle(self, result: FrameResult) -> None:
        return None

    def on_event(self, event: Event) -> None:
        if isinstance(event, ObjectEvent):
            self.add(event)

    def add(self, event: ObjectEvent) -> None:
        """Merge ``event`` into its record (creating it, evicting the oldest)."""
        body = event.to_json()
        body.pop("type", None)
        body.pop("changes", None)
        body["state"] = "ended" if event.type == "end" else "active"
        body["snapshot_url"] = self.snapshot_url(event.snapshot)
        body["clip_url"] = _clip_url(event.clip)
        with self._lock:
            old = self._records.get(event.id)
            if old is None:
                rec = _Record(event.start_epoch_ns, body)
                if len(self._records) >= self.max_events:
                    oldest = min(self._records, key=lambda k: self._records[k].start_epoch_ns)
                    if self._records[oldest].start_epoch_ns > event.start_epoch_ns:
                        return  # older than every event kept (one evicted before)
                    del self._records[oldest]
            else:
                rec = _Record(event.start_epoch_ns, body, old.updates, old.snapshot_version)
            if event.type == "update":
                rec.updates += 1
            if "snapshot" in event.changes or event.type == "end":
                rec.snapshot_version += 1  # the picture may have changed
            body["updates"] = rec.updates
            body["snapshot_version"] = rec.snapshot_version
            self._records[event.id] = rec
            self._version += 1
            self.events_received += 1

    def snapshot_url(self, path: str | None) -> str | None:
        """``/snapshots/<name>`` for a snapshot in ``snapshots_dir``, else None."""
        if path is None or self.snapshots_dir is None:
            return None
        name = os.path.basename(path)
        if not SNAPSHOT_RE.match(name):
            return None
        return SNAPSHOTS_PREFIX + quote(name)

    # -- state -------------------------------------------------------------------
    def recent(self, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """The records newest first (at most ``limit``), and the version."""
        with self._lock:
            records = sorted(
                self._records.items(), key=lambda kv: (kv[1].start_epoch_ns, kv[0]), reverse=True
            )
            version = self._version
        out = [rec.json for _, rec in records[:limit]]
        return out, version

    # -- routes --------------------------------------------------------------------
    def _api_events(self, request: Request) -> Response:
        raw = request.param("limit")
        limit = self.max_events
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                limit = 0
            if not 1 <= limit <= self.max_events:
                return json_response(
                    400, {"error": f"limit: expected 1 to {self.max_events}, got {raw!r}"}
                )
        events, version = self.recent(limit)
        return json_response(
            200,
            {
                "events": events,
                "count": len(events),
                "max_events": self.max_events,
                "version": version,
                "tracking": self.tracking,
            },
        )

    def _snapshot(self, request: Request) -> Response:
        assert self.snapshots_dir is not None
        return serve_named(request, self.snapshots_dir, SNAPSHOT_RE.match, "image/jpeg")
