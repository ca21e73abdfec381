"""What the operations routes answer: ``/healthz``, ``/metrics``, ``/api/stats``.

Health is a list of named checks, in order; the first failing reason is the
answer (the pipeline's liveness and failed outputs come built in; the run
adds "no model", a failed recording...). ``/metrics`` and ``/api/stats`` are
the run's :class:`PipelineStats` plus what components add.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from camera_app.events import Event, SourceEvent
from camera_app.http.health import HealthCheck, Liveness, outputs_check
from camera_app.http.messages import Request, Response, json_response, text
from camera_app.http.metrics import CONTENT_TYPE, Family, render, stats_families
from camera_app.stats import PipelineStats

if TYPE_CHECKING:
    from camera_app.http.routes import RouteTable

log = logging.getLogger(__name__)


class Operations:
    def __init__(self, stats: PipelineStats | None, stale_after_s: float, name: str) -> None:
        self.name = name
        self.liveness = Liveness(stale_after_s)
        self.liveness.stats = stats
        self._lock = threading.Lock()
        self._health: list[tuple[str, HealthCheck]] = [
            ("pipeline", self.liveness),
            ("outputs", outputs_check(self.liveness)),
        ]
        self._metrics: list[Callable[[], Iterable[Family]]] = []
        self._stats_fields: list[Callable[[], Mapping[str, Any]]] = []

    def add_health(self, name: str, check: HealthCheck, *, first: bool = False) -> None:
        with self._lock:
            added = [(name, check)]
            self._health = [*added, *self._health] if first else [*self._health, *added]

    def add_metrics(self, families: Callable[[], Iterable[Family]]) -> None:
        with self._lock:
            self._metrics = [*self._metrics, families]

    def add_stats_fields(self, fields: Callable[[], Mapping[str, Any]]) -> None:
        with self._lock:
            self._stats_fields = [*self._stats_fields, fields]

    def on_event(self, event: Event) -> None:
        if isinstance(event, SourceEvent):
            self.liveness.on_event(event)

    def health(self) -> str | None:
        """The first failing check's reason, or None."""
        for name, check in self._health:
            try:
                why = check()
            except Exception as e:
                log.exception("%s: health check %s failed", self.name, name)
                return f"{name}: check failed ({type(e).__name__})"
            if why is not None:
                return why
        return None

    def stats_json(self) -> dict[str, Any]:
        snap = (self.liveness.stats or PipelineStats()).snapshot().to_json()
        why = self.health()
        snap.update(source_up=self.liveness.source_up(), health=why or "ok")
        for fields in self._stats_fields:
            snap.update(fields())
        return snap

    def metrics_text(self) -> str:
        snap = (self.liveness.stats or PipelineStats()).snapshot()
        families = stats_families(snap, self.liveness.source_up(), self.health() is None)
        for extra in self._metrics:
            families += list(extra())
        return render(families)

    def add_routes(self, routes: RouteTable) -> None:
        """``/healthz`` (open: "ok" or why not), ``/metrics``, ``/api/stats``."""

        def healthz(request: Request) -> Response:
            why = self.health()
            return text(200, "ok") if why is None else text(503, why)

        def metrics(request: Request) -> Response:
            return Response(200, self.metrics_text().encode(), CONTENT_TYPE)

        def stats(request: Request) -> Response:
            return json_response(200, self.stats_json())

        routes.add("GET", "/healthz", healthz, public=True)
        routes.add("GET", "/metrics", metrics)
        routes.add("GET", "/api/stats", stats)
