"""The recordings on the HTTP server: the listing and the files, with ranges."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from camera_app.http import HttpServer
from camera_app.recording.recorder import SegmentedRecorder
from camera_app.sinks.recordings_http import add_recording_routes, start_utc

TOKEN = "recordings-test-token"
T0 = 1_795_996_790.0  # 2026-11-29T23:59:50Z


def _get(server: HttpServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[HttpServer, SegmentedRecorder, Path]]:
    """Three 1 s Motion JPEG segments (the last one still being written),
    plus files that are not recordings."""
    folder = tmp_path / "recs"
    folder.mkdir()
    walls = iter([T0, T0 + 15, T0 + 30, T0 + 45])  # across midnight
    recorder = SegmentedRecorder.in_directory(
        folder, ".mkv", segment_s=1.0, wall_clock=lambda: next(walls)
    )
    recorder.open()
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(25):  # 2.5 s at 10 fps
        recorder.write(image, i * 100_000_000)
    (folder / "notes.txt").write_text("not a recording")
    (folder / "sub.mkv").mkdir()
    (tmp_path / "secret.mkv").write_bytes(b"outside the folder")
    server = HttpServer(port=0, token=TOKEN)
    add_recording_routes(server, recorder)
    server.start()
    try:
        yield server, recorder, folder
    finally:
        server.close()
        recorder.close()


def test_the_listing_is_newest_first_with_start_times_and_durations(
    served: tuple[HttpServer, SegmentedRecorder, Path],
) -> None:
    server, _, folder = served
    status, _, body = _get(server, "/api/recordings")
    assert status == 200
    entries = json.loads(body)["recordings"]
    assert [e["name"] for e in entries] == [
        "2026-11-30T00-00-20Z.mkv",
        "2026-11-30T00-00-05Z.mkv",
        "2026-11-29T23-59-50Z.mkv",
    ]
    assert [e["start_utc"] for e in entries] == [
        "2026-11-30T00:00:20Z",
        "2026-11-30T00:00:05Z",
        "2026-11-29T23:59:50Z",
    ]
    assert [e["recording"] for e in entries] == [True, False, False]
    assert [e["duration_s"] for e in entries] == [None, pytest.approx(1.0, abs=0.11), pytest.approx(1.0, abs=0.11)]  # fmt: skip
    assert all(e["size_bytes"] == (folder / e["name"]).stat().st_size for e in entries)
    assert entries[1]["url"] == "/recordings/2026-11-30T00-00-05Z.mkv"


def test_files_are_served_with_ranges_and_nothing_else_is(
    served: tuple[HttpServer, SegmentedRecorder, Path],
) -> None:
    server, _, folder = served
    name = "2026-11-30T00-00-05Z.mkv"
    data = (folder / name).read_bytes()
    status, headers, body = _get(server, f"/recordings/{name}")
    assert (status, body, headers["Accept-Ranges"]) == (200, data, "bytes")
    assert headers["Content-Type"] == "video/x-matroska"
    status, headers, body = _get(server, f"/recordings/{name}", {"Range": "bytes=100-199"})
    assert (status, body) == (206, data[100:200])
    assert headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    for bad in ("notes.txt", "sub.mkv", "..%2Fsecret.mkv", "../secret.mkv", "%2e%2e/secret.mkv", "nosuch.mkv", ""):  # fmt: skip
        status, _, body = _get(server, f"/recordings/{bad}")
        assert status == 404, (bad, body)


def test_both_routes_need_the_token(served: tuple[HttpServer, SegmentedRecorder, Path]) -> None:
    server, _, _ = served
    for path in ("/api/recordings", "/recordings/2026-11-30T00-00-05Z.mkv"):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", path)
        assert conn.getresponse().status == 401
        conn.close()


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("2026-11-29T14-02-05Z.mp4", "2026-11-29T14:02:05Z"),
        ("2026-11-29T14-02-05Z-3.mp4", "2026-11-29T14:02:05Z"),
        ("rec-2026-11-29T14-02-05Z.mp4", "2026-11-29T14:02:05Z"),
        ("holiday.mp4", None),
    ],
)
def test_start_times_come_from_the_names(name: str, start: str | None) -> None:
    assert start_utc(name) == start
