"""The route table: exact paths, prefixes, duplicates."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from camera_app.http import Request, Response, text
from camera_app.http.routes import RouteTable


def handler(name: str) -> Callable[[Request], Response]:
    def h(request: Request) -> Response:
        return text(200, name)

    return h


@pytest.mark.parametrize(
    ("path", "route", "tail"),
    [
        ("/api/recordings", "list", ""),
        ("/api/recordings/a.mp4", "file", "a.mp4"),
        ("/api/recordings/2024/a.mp4", "file", "2024/a.mp4"),
        ("/api/recordings/thumbs/a.jpg", "thumb", "a.jpg"),  # the longer prefix wins
        ("/api/recordings/thumbs/", "file", "thumbs/"),  # a prefix needs a tail
        ("/api/recording", None, ""),
        ("/", None, ""),
    ],
)
def test_match(path: str, route: str | None, tail: str) -> None:
    table = RouteTable()
    table.add("GET", "/api/recordings", handler("list"))
    table.add("GET", "/api/recordings/*", handler("file"))
    table.add("GET", "/api/recordings/thumbs/*", handler("thumb"))
    found = table.match(path)
    if route is None:
        assert found is None
        return
    assert found is not None
    methods, got_tail = found
    response = methods["GET"].handler(Request("GET", path))
    assert response is not None
    assert (response.body, got_tail) == (
        f"{route}\n".encode(),
        tail,
    )


def test_methods_and_duplicates() -> None:
    table = RouteTable()
    table.add("get", "/x", handler("get"))
    table.add("POST", "/x", handler("post"), public=True)
    found = table.match("/x")
    assert found is not None and sorted(found[0]) == ["GET", "POST"]
    assert found[0]["POST"].public and not found[0]["GET"].public
    with pytest.raises(ValueError, match="already registered"):
        table.add("GET", "/x", handler("again"))
    with pytest.raises(ValueError, match="must start with /"):
        table.add("GET", "x", handler("x"))
    assert table.paths() == ["/x"]
