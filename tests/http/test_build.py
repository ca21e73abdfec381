"""build_server: which address, which token, or no server at all."""

from __future__ import annotations

import http.client
import re

import pytest

from camera_app.errors import ConfigError
from camera_app.http import HttpConfig
from camera_app.http.build import build_server
from camera_app.stats import PipelineStats


def status(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


def test_no_listen_and_no_preview_means_no_server() -> None:
    assert build_server(HttpConfig(), PipelineStats(), {}) is None


def test_listen_wins_over_the_preview_address() -> None:
    config = HttpConfig(listen="127.0.0.1:0", max_connections=3, stale_after_s=7.0)
    server = build_server(config, PipelineStats(), {}, preview_address=("127.0.0.1", 1))
    assert server is not None
    with server:
        assert (server.host, server.limits.max_connections) == ("127.0.0.1", 3)
        assert server.ops.liveness.stale_after_s == 7.0 and server.port != 1


def test_the_preview_address_without_listen() -> None:
    server = build_server(HttpConfig(), PipelineStats(), {}, preview_address=("::1", 0))
    assert server is not None
    with server:
        assert server.url == f"http://[::1]:{server.port}/"


@pytest.mark.parametrize(
    ("env", "http_token", "preview_token", "expected"),
    [
        ("env", "http", "preview", "env"),
        (None, "http", "preview", "http"),
        (None, None, "preview", "preview"),
        ("", "", None, None),
    ],
)
def test_token_precedence(
    env: str | None, http_token: str | None, preview_token: str | None, expected: str | None
) -> None:
    environ = {} if env is None else {"CAMERA_APP_WEB_TOKEN": env}
    config = HttpConfig(listen="127.0.0.1:0", token=http_token)
    server = build_server(config, PipelineStats(), environ, preview_token=preview_token)
    assert server is not None
    with server:
        assert server.access.token == expected
        server.start()
        if expected is not None:
            assert status(server.port, "/metrics") == 401
            assert status(server.port, "/metrics", {"Authorization": f"Bearer {expected}"}) == 200


@pytest.mark.parametrize(
    ("listen", "preview_address", "origin"),
    [("0.0.0.0:0", None, "--http 0.0.0.0"), (None, ("0.0.0.0", 0), "--web-host 0.0.0.0")],
)
def test_beyond_loopback_needs_a_token(
    listen: str | None, preview_address: tuple[str, int] | None, origin: str
) -> None:
    config = HttpConfig(listen=listen)
    message = f"{origin} needs an access token: set [preview] token (or [http] token)"
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        build_server(config, PipelineStats(), {}, preview_address=preview_address)
    insecure = HttpConfig(listen=listen, insecure_no_auth=True)
    server = build_server(insecure, PipelineStats(), {}, preview_address=preview_address)
    assert server is not None
    server.close()
