"""[http]: parsing through the config validator, listen addresses, limits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from camera_app.errors import ConfigError
from camera_app.http import HttpConfig, HttpLimits, parse_listen
from camera_app.validation import build


def test_defaults_and_limits() -> None:
    config = build(HttpConfig, {})
    assert config.listen is None and config.address is None
    assert config.limits() == HttpLimits()
    custom = build(
        HttpConfig, {"listen": "0.0.0.0:9000", "max_connections": 8, "idle_timeout_s": 2}
    )
    assert custom.address == ("0.0.0.0", 9000)
    assert (custom.limits().max_connections, custom.limits().idle_timeout_s) == (8, 2.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8080", ("::1", 8080)),
        ("[::]:0", ("::", 0)),
        ("camera.local:8080", ("camera.local", 8080)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    "value",
    ["8080", ":8080", "127.0.0.1", "127.0.0.1:", "host:http", "::1:8080", "h:70000", "a b:1"],
)
def test_bad_listen_names_the_key(value: str) -> None:
    message = (
        f'http.listen: expected "HOST:PORT" (e.g. "127.0.0.1:8080" or "[::1]:8080"), got "{value}"'
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        build(HttpConfig, {"listen": value}, "http")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_connections": 0}, "http.max_connections: expected an integer from 1 to 1024, got 0"),
        ({"header_timeout_s": 0}, "http.header_timeout_s: expected a number > 0 and <= 300, got 0"),
        ({"listen": 8080}, "http.listen: expected a string, got 8080"),
        ({"tokn": "x"}, 'unknown key "tokn" in [http] (did you mean "token"?)'),
    ],
)
def test_bad_values_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        build(HttpConfig, data, "http")
