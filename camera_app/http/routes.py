"""The route table.

A route is a method and a path; a path ending in ``/*`` matches everything
under it (``request.route_tail`` holds the rest, still URL-encoded). Exact
paths win over prefixes, longer prefixes over shorter ones. Routes are
private (token and ``Host`` rules) unless added ``public=True``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from camera_app.http.messages import Request, Response

Handler = Callable[[Request], Response | None]
"""Returns the response, or None after streaming it itself (``send_head``/``write``)."""


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    public: bool = False


class RouteTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: dict[str, dict[str, Route]] = {}
        self._prefixes: list[tuple[str, dict[str, Route]]] = []  # longest first

    def add(self, method: str, path: str, handler: Handler, public: bool = False) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route path must start with /, got {path!r}")
        method = method.upper()
        with self._lock:
            if path.endswith("/*"):
                prefix = path[:-1]
                table = dict(self._prefixes)
                methods = dict(table.get(prefix, {}))
            else:
                methods = dict(self._exact.get(path, {}))
            if method in methods:
                raise ValueError(f"route {method} {path} is already registered")
            methods[method] = Route(handler, public)
            if path.endswith("/*"):
                table[prefix] = methods
                self._prefixes = sorted(table.items(), key=lambda kv: -len(kv[0]))
            else:
                self._exact = {**self._exact, path: methods}

    def match(self, path: str) -> tuple[dict[str, Route], str] | None:
        """The methods registered for ``path``, and the prefix route's tail."""
        exact = self._exact.get(path)
        if exact is not None:
            return exact, ""
        for prefix, methods in self._prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return methods, path[len(prefix) :]
        return None

    def paths(self) -> list[str]:
        return sorted([*self._exact, *(p + "*" for p, _ in self._prefixes)])
