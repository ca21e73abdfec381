"""serve_file: whole files, single byte ranges, 416, content types, safe names."""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest

from camera_app.http import HttpServer, Request, Response, safe_join, serve_file, text
from camera_app.http.files import UNSATISFIABLE, parse_range

DATA = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable by position
SIZE = len(DATA)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name in ("clip.mp4", "snap.jpg", "clip.mkv", "other.bin"):
        (tmp_path / name).write_bytes(DATA)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.avi").write_bytes(DATA[:10])
    return tmp_path


@pytest.fixture
def file_server(make_server: Callable[..., HttpServer], files: Path) -> HttpServer:
    """What the recordings code will do: names from the URL, resolved safely."""

    def recording(request: Request) -> Response:
        path = safe_join(files, unquote(request.route_tail))
        return text(404, "not found") if path is None else serve_file(request, path)

    server = make_server()
    server.add_route("GET", "/files/*", recording, public=True)
    return server


def fetch_range(
    port: int, path: str, headers: dict[str, str]
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("range_header", "status", "content_range", "body"),
    [
        (None, 200, None, DATA),
        ("bytes=0-99", 206, "bytes 0-99/1024", DATA[:100]),
        ("bytes=400-499", 206, "bytes 400-499/1024", DATA[400:500]),
        ("bytes=-100", 206, "bytes 924-1023/1024", DATA[-100:]),
        ("bytes=-5000", 206, "bytes 0-1023/1024", DATA),
        ("bytes=1000-", 206, "bytes 1000-1023/1024", DATA[1000:]),
        ("bytes=1000-5000", 206, "bytes 1000-1023/1024", DATA[1000:]),
        ("bytes=1023-1023", 206, "bytes 1023-1023/1024", DATA[1023:]),
        ("bytes=1024-", 416, "bytes */1024", b"range not satisfiable\n"),
        ("bytes=5000-6000", 416, "bytes */1024", b"range not satisfiable\n"),
        ("bytes=-0", 416, "bytes */1024", b"range not satisfiable\n"),
        ("bytes=0-1,5-6", 200, None, DATA),  # several ranges: the whole file
        ("bytes=9-1", 200, None, DATA),  # invalid: ignored
        ("items=0-1", 200, None, DATA),
        ("bytes=abc", 200, None, DATA),
    ],
)
def test_ranges(
    file_server: HttpServer,
    range_header: str | None,
    status: int,
    content_range: str | None,
    body: bytes,
) -> None:
    headers = {} if range_header is None else {"Range": range_header}
    got, resp_headers, got_body = fetch_range(file_server.port, "/files/clip.mp4", headers)
    assert (got, resp_headers["Content-Range"], got_body) == (status, content_range, body)
    assert resp_headers["Accept-Ranges"] == "bytes"
    assert int(resp_headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("clip.mp4", "video/mp4"),
        ("snap.jpg", "image/jpeg"),
        ("clip.mkv", "video/x-matroska"),
        ("sub/deep.avi", "video/x-msvideo"),
        ("other.bin", "application/octet-stream"),
    ],
)
def test_content_types(file_server: HttpServer, name: str, ctype: str) -> None:
    status, headers, _ = fetch_range(file_server.port, f"/files/{name}", {})
    assert (status, headers["Content-Type"]) == (200, ctype)


def test_if_range_sends_the_range_only_for_the_same_file(
    file_server: HttpServer, files: Path
) -> None:
    _, headers, _ = fetch_range(file_server.port, "/files/clip.mp4", {})
    etag, modified = headers["ETag"], headers["Last-Modified"]
    for validator in (etag, modified):
        got = fetch_range(
            file_server.port, "/files/clip.mp4", {"Range": "bytes=0-9", "If-Range": validator}
        )
        assert got[0] == 206 and got[2] == DATA[:10]
    os.utime(files / "clip.mp4", ns=(0, 10**18))  # changed since the client's copy
    got = fetch_range(file_server.port, "/files/clip.mp4", {"Range": "bytes=0-9", "If-Range": etag})
    assert got[0] == 200 and got[2] == DATA


def test_seeking_on_one_keep_alive_connection(file_server: HttpServer, tmp_path: Path) -> None:
    """What a <video> does: several ranges of a large file on one connection."""
    big = os.urandom(3_000_000)
    (tmp_path / "big.mp4").write_bytes(big)
    conn = http.client.HTTPConnection("127.0.0.1", file_server.port, timeout=10)
    try:
        for first, last in ((0, None), (2_500_000, 2_999_999), (1_000_000, 1_000_999)):
            header = f"bytes={first}-" + ("" if last is None else str(last))
            conn.request("GET", "/files/big.mp4", headers={"Range": header})
            resp = conn.getresponse()
            assert resp.status == 206 and resp.getheader("Connection") == "keep-alive"
            assert resp.read() == big[first : None if last is None else last + 1]
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/files/missing.mp4",
        "/files/sub",  # a folder
        "/files/../secret.mp4",
        "/files/%2e%2e/secret.mp4",
        "/files/%2fetc%2fpasswd",
        "/files/sub/%2e%2e/%2e%2e/secret.mp4",
    ],
)
def test_missing_and_outside_names_are_404(file_server: HttpServer, files: Path, path: str) -> None:
    (files.parent / "secret.mp4").write_bytes(b"secret")
    status, _, body = fetch_range(file_server.port, path, {})
    assert (status, body) == (404, b"not found\n")


def test_empty_file(file_server: HttpServer) -> None:
    assert fetch_range(file_server.port, "/files/empty.mp4", {})[::2] == (200, b"")
    assert fetch_range(file_server.port, "/files/empty.mp4", {"Range": "bytes=0-"})[0] == 416


def test_fifo_is_not_served_and_does_not_block(files: Path) -> None:
    os.mkfifo(files / "pipe.mp4")
    with serve_file(Request("GET", "/x"), files / "pipe.mp4") as response:
        assert response.status == 404


def test_serve_file_without_a_server_owns_its_file(files: Path) -> None:
    with serve_file(Request("GET", "/x", {"Range": "bytes=10-19"}), files / "clip.mp4") as r:
        assert (r.status, r.content_length, r.headers["Content-Range"]) == (
            206,
            10,
            "bytes 10-19/1024",
        )
        assert r.file is not None and not r.file.file.closed
    assert r.file.file.closed


def test_safe_join(files: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (files / "link.mp4").symlink_to(outside / "x.mp4")
    assert safe_join(files, "clip.mp4") == (files / "clip.mp4").resolve()
    assert safe_join(files, "sub/deep.avi") == (files / "sub" / "deep.avi").resolve()
    for bad in ("", ".", "..", "../x", "/etc/passwd", "sub/../../x", "link.mp4", "a\0b"):
        assert safe_join(files, bad) is None, bad


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-3", 0, UNSATISFIABLE),
        ("bytes=0-", 0, UNSATISFIABLE),
        ("bytes=10-", 10, UNSATISFIABLE),
        ("BYTES = 1 - 2", 10, (1, 2)),
        ("bytes=-", 10, None),
        ("bytes=1-2,4-5", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected
