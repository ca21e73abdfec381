"""[http]: the operations server's address, access and limits.

Mount :class:`HttpConfig` on ``AppConfig`` as ``http``; the validator builds
it like every other section (bounds in ``opt``, ``validate`` for ``listen``).
"""

from __future__ import annotations

from dataclasses import dataclass

from camera_app.errors import ConfigError
from camera_app.validation import opt, show


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How much the server holds at once, and for how long."""

    max_connections: int = 32
    """Requests handled at once, one thread each; more are answered 503."""
    max_waiting: int = 256
    """Connections held without a thread (sending a head, idle keep-alive)."""
    backlog: int = 256
    header_timeout_s: float = 5.0
    idle_timeout_s: float = 15.0
    send_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_waiting", "backlog"):
            if getattr(self, name) < 1:
                raise ConfigError(f"http.{name}: expected >= 1, got {getattr(self, name)}")
        for name in ("header_timeout_s", "idle_timeout_s", "send_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"http.{name}: expected > 0, got {getattr(self, name)}")


def parse_listen(value: str) -> tuple[str, int]:
    """``"HOST:PORT"`` or ``"[IPv6]:PORT"`` -> (host, port); ``ConfigError`` otherwise."""
    host, sep, port = value.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    ok = sep and host and port.isdigit() and int(port) <= 65535
    if not ok or (":" in host and not bracketed) or any(c in host for c in "[] /"):
        raise ConfigError(
            f'expected "HOST:PORT" (e.g. "127.0.0.1:8080" or "[::1]:8080"), got {show(value)}'
        )
    return host, int(port)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """[http] the operations server: /healthz, /metrics, /api/stats (and the web preview)."""

    listen: str | None = opt(
        None,
        'serve on "HOST:PORT" (e.g. "127.0.0.1:8080"); absent: only with the web '
        "preview, on [preview] web_host and web_port",
    )
    token: str | None = opt(
        None,
        "access token for every route but /healthz (or env CAMERA_APP_WEB_TOKEN); "
        "absent: [preview] token",
    )
    insecure_no_auth: bool = opt(False, "serve on a non-local address without a token")
    max_connections: int = opt(
        32, "requests handled at once (a thread each); more get 503", ge=1, le=1024
    )
    max_waiting: int = opt(
        256,
        "connections held open while a request arrives or between requests (no thread)",
        ge=1,
        le=10000,
    )
    backlog: int = opt(256, "connections queued by the kernel before accept", ge=1, le=65535)
    header_timeout_s: float = opt(
        5.0, "the request line and headers must arrive within this", gt=0, le=300
    )
    idle_timeout_s: float = opt(15.0, "close a keep-alive connection idle this long", gt=0, le=3600)
    send_timeout_s: float = opt(
        10.0, "drop a client that accepts no data for this long", gt=0, le=3600
    )
    stale_after_s: float = opt(
        5.0, "/healthz fails when no frame was processed for this long", gt=0, le=86400
    )

    def validate(self) -> None:
        if self.listen is not None:
            try:
                parse_listen(self.listen)
            except ConfigError as e:
                raise ConfigError(f"listen: {e}") from None

    @property
    def address(self) -> tuple[str, int] | None:
        return None if self.listen is None else parse_listen(self.listen)

    def limits(self) -> HttpLimits:
        return HttpLimits(
            max_connections=self.max_connections,
            max_waiting=self.max_waiting,
            backlog=self.backlog,
            header_timeout_s=self.header_timeout_s,
            idle_timeout_s=self.idle_timeout_s,
            send_timeout_s=self.send_timeout_s,
        )
