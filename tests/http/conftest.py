"""Shared builders for the HTTP server tests: a started server, raw requests."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator

import pytest

from camera_app.http import HttpLimits, HttpServer
from camera_app.stats import PipelineStats

Fetch = Callable[..., tuple[int, http.client.HTTPMessage, bytes]]


@pytest.fixture
def stats() -> PipelineStats:
    """A pipeline that has processed one frame just now."""
    s = PipelineStats()
    s.set_source_state("up")
    s.on_captured(s.started_ns)
    s.on_processed(s.started_ns, 5.0, {"inference": 4.0})
    return s


@pytest.fixture
def make_server(stats: PipelineStats) -> Iterator[Callable[..., HttpServer]]:
    """Started servers on a free loopback port, closed after the test."""
    servers: list[HttpServer] = []

    def make(**kwargs: object) -> HttpServer:
        limits = kwargs.pop("limits", None)
        server = HttpServer(port=0, stats=stats, limits=limits, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server: Callable[..., HttpServer]) -> HttpServer:
    return make_server(limits=HttpLimits(max_connections=4, header_timeout_s=2.0))


def fetch(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.fixture
def get() -> Fetch:
    return fetch


def raw_exchange(port: int, data: bytes, timeout_s: float = 10.0) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def raw() -> Callable[..., bytes]:
    return raw_exchange
