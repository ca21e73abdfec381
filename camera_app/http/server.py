"""The operations HTTP server: one per run, bounded in threads and time.

Built (and bound: a busy port fails before the pipeline starts) in the
constructor, served from ``start()`` to ``close()``. An accept loop
(:mod:`camera_app.http.io`) reads request heads without threads; each
complete request runs on its own handler thread, at most
``limits.max_connections`` at once, and the loop answers ``503`` +
``Retry-After`` beyond that. Long-lived responses (the MJPEG stream)
:meth:`~camera_app.http.messages.Request.detach` from that cap and are
bounded by their own.

Built in: ``/healthz`` (open), ``/metrics`` and ``/api/stats``, from the
run's :class:`PipelineStats`. Components add routes (``add_route``), health
checks (``add_health``: None when healthy, else the reason), metric families
(``add_metrics``) and ``/api/stats`` fields (``add_stats_fields``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from camera_app.errors import SinkError
from camera_app.events import Event
from camera_app.http.auth import AccessPolicy
from camera_app.http.config import HttpLimits
from camera_app.http.health import HealthCheck
from camera_app.http.io import Conn, ConnectionLoop
from camera_app.http.messages import (
    BadRequest,
    Request,
    Response,
    canned,
    parse_head,
    redact,
    text,
    write_response,
)
from camera_app.http.metrics import Family, one
from camera_app.http.ops import Operations
from camera_app.http.routes import Handler, RouteTable
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0


def _listen(host: str, port: int, backlog: int, name: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except (OSError, OverflowError) as e:  # OverflowError: port out of range
        sock.close()
        why = getattr(e, "strerror", None) or str(e)
        raise SinkError(f"{name}: cannot listen on {host}:{port} ({why})") from e
    return sock


class HttpServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        token: str | None = None,
        insecure_no_auth: bool = False,
        stats: PipelineStats | None = None,
        limits: HttpLimits | None = None,
        stale_after_s: float = 5.0,
        name: str = "http",
        origin: str = "--http",
    ) -> None:
        """``name`` prefixes errors and thread names; ``origin`` is the flag
        that chose the address, for the missing-token error."""
        self.name = name
        self.access = AccessPolicy.checked(host, token, insecure_no_auth, origin)
        self.host = host.strip("[]")
        self.limits = limits or HttpLimits()
        self.ops = Operations(stats, stale_after_s, name)
        self.routes = RouteTable()
        self._lock = threading.Lock()
        self._busy = 0
        self._active: set[Request] = set()
        self._threads: set[threading.Thread] = set()
        self._started = self._closed = False
        self.requests = 0
        listener = _listen(self.host, port, self.limits.backlog, name)
        self.port: int = listener.getsockname()[1]
        self._loop = ConnectionLoop(
            listener,
            self._dispatch,
            max_waiting=self.limits.max_waiting,
            header_timeout_s=self.limits.header_timeout_s,
            idle_timeout_s=self.limits.idle_timeout_s,
            name=name,
        )
        self.ops.add_routes(self.routes)
        self.ops.add_metrics(self._http_families)

    # -- what components add ------------------------------------------------
    @property
    def stats(self) -> PipelineStats | None:
        return self.ops.liveness.stats

    @stats.setter
    def stats(self, stats: PipelineStats | None) -> None:
        self.ops.liveness.stats = stats

    def add_route(self, method: str, path: str, handler: Handler, *, public: bool = False) -> None:
        """``public``: no token or Host rule (only /healthz is, built in)."""
        self.routes.add(method, path, handler, public)

    def add_health(self, name: str, check: HealthCheck, *, first: bool = False) -> None:
        """``check()`` returns None when healthy, else the reason /healthz gives;
        ``first``: asked before the built-in ones (a start-up that waits)."""
        self.ops.add_health(name, check, first=first)

    def add_metrics(self, families: Callable[[], Iterable[Family]]) -> None:
        self.ops.add_metrics(families)

    def add_stats_fields(self, fields: Callable[[], Mapping[str, Any]]) -> None:
        self.ops.add_stats_fields(fields)

    def on_event(self, event: Event) -> None:
        """Source events: /healthz then says why the camera is down."""
        self.ops.on_event(event)

    def health(self) -> str | None:
        return self.ops.health()

    # -- lifetime -----------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def busy(self) -> int:
        """Handler threads counted against ``max_connections`` now."""
        return self._busy

    def start(self) -> None:
        """Serve requests (idempotent)."""
        with self._lock:
            started, self._started = self._started, True
        if not started:
            self._loop.start()
            log.info("%s: serving %s", self.name, self.url)

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop accepting, abort every response in flight, join the threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            active, threads = list(self._active), list(self._threads)
        deadline = time.monotonic() + timeout_s
        self._loop.stop(timeout_s)
        for request in active:
            request.abort()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        if alive:
            log.warning("%s: %d handler threads still busy after close", self.name, len(alive))

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- serving -------------------------------------------------------------------
    def _http_families(self) -> list[Family]:
        c = self._loop.counts
        rejected = {
            "busy": c["rejected_busy"],
            "too_many_connections": c["rejected_full"],
            "header_timeout": c["header_timeout"],
        }
        return [
            Family("http_requests_total", "counter", "HTTP requests received.", one(self.requests)),
            Family(
                "http_rejected_total",
                "counter",
                "HTTP connections turned away, by reason.",
                [({"reason": k}, v) for k, v in rejected.items()],
            ),
            Family("http_busy", "gauge", "HTTP handler threads in use.", one(self._busy)),
        ]

    def _dispatch(self, conn: Conn, head: bytes) -> bool:
        """On the accept thread: a handler thread for a complete head, or False (503)."""
        with self._lock:
            if self._closed or self._busy >= self.limits.max_connections:
                return False
            self._busy += 1
            t = threading.Thread(target=self._serve, args=(conn, head), name=f"{self.name}-handler")
            t.daemon = True
            try:
                t.start()  # under the lock: close() never joins a thread not started
            except RuntimeError:  # cannot start a thread: answer 503
                self._busy -= 1
                return False
            self._threads.add(t)
        return True

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    def _serve(self, conn: Conn, head: bytes) -> None:
        request: Request | None = None
        keep_alive = False
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(self.limits.send_timeout_s)
            try:
                request = parse_head(head, conn.address, conn.sock)
            except BadRequest as e:
                log.debug("%s: bad request from %s (%s)", self.name, conn.address[0], e)
                conn.sock.sendall(canned(400, "bad request"))
                return
            request.on_detach = self._release
            with self._lock:
                self._active.add(request)
                self.requests += 1
            response = self._respond(request)
            status = request.status
            if response is not None:
                keep_alive = request.keep_alive and not request.has_body and not self._closed
                status = response.status
                try:
                    write_response(conn.sock, response, keep_alive)
                except (ValueError, UnicodeError):  # a bad header: nothing was sent
                    log.exception(
                        "%s: %s %s: bad response", self.name, request.method, request.path
                    )
                    keep_alive, status = False, 500
                    write_response(conn.sock, text(500, "internal error"), False)
            log.debug(
                '%s %s "%s %s" %d',
                self.name,
                conn.address[0],
                request.method,
                redact(request.target),
                status,
            )
        except OSError as e:  # the peer went away or stopped reading
            keep_alive = False
            log.debug("%s: connection from %s ended (%s)", self.name, conn.address[0], e)
        except Exception:
            keep_alive = False
            log.exception("%s: serving %s failed", self.name, conn.address[0])
        finally:
            with self._lock:
                if request is not None:
                    self._active.discard(request)
                self._threads.discard(threading.current_thread())
            if request is None or not request.detached:
                self._release()
            self._loop.give_back(conn, keep_alive)

    def _respond(self, request: Request) -> Response | None:
        found = self.routes.match(request.path)
        if found is None:
            return text(404, "not found")
        methods, tail = found
        route = methods.get(request.method)
        if route is None:
            return text(405, "method not allowed", {"Allow": ", ".join(sorted(methods))})
        request.route_tail = tail
        if not route.public:
            if not self.access.host_allowed(request.header("Host")):
                return text(403, "unexpected Host header")
            if not self.access.authorized(request.header("Authorization"), request.param("token")):
                return text(401, "access token required", {"WWW-Authenticate": "Bearer"})
        try:
            return route.handler(request)
        except Exception as e:
            if request.head_sent and isinstance(e, OSError):
                raise  # the peer went away mid-stream
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            if request.head_sent:
                raise OSError("response aborted") from e
            return text(500, "internal error")
