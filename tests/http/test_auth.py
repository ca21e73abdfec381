"""The token and Host rules as a table (over HTTP: tests/http/test_server.py)."""

from __future__ import annotations

import pytest

from camera_app.errors import ConfigError
from camera_app.http import AccessPolicy, is_loopback


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("camera.local", False),
        ("localhost.evil.example", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("header", "query", "ok"),
    [
        (None, None, False),
        ("Bearer t0k", None, True),
        ("Bearer  t0k ", None, True),
        ("bearer t0k", None, False),
        ("Bearer t0", None, False),
        (None, "t0k", True),
        (None, "", False),
        ("Bearer wrong", "t0k", False),  # a header that is wrong is not rescued by the query
    ],
)
def test_authorized(header: str | None, query: str | None, ok: bool) -> None:
    assert AccessPolicy("127.0.0.1", "t0k").authorized(header, query) is ok
    assert AccessPolicy("127.0.0.1", None).authorized(header, query) is True


def test_checked_needs_a_token_beyond_loopback() -> None:
    with pytest.raises(ConfigError, match=r"^--web-host 0.0.0.0 needs an access token: "):
        AccessPolicy.checked("0.0.0.0", "", False, "--web-host")
    assert AccessPolicy.checked("0.0.0.0", None, True).token is None
    assert AccessPolicy.checked("0.0.0.0", "t", False).token == "t"
    assert AccessPolicy.checked("::1", None, False).host == "::1"
