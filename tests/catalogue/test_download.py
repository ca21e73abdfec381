"""camera_app.catalogue.download against a local HTTP server: every failure is
one DownloadError line and leaves no file behind."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest

from camera_app.catalogue import download
from camera_app.catalogue.download import (
    DestinationError,
    DownloadError,
    extract_member,
    fetch,
    install,
    temp_file,
)

DATA = bytes(range(256)) * 400  # 102400 bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fetch_writes_the_body_and_reports_progress(file_server: Any, tmp_path: Path) -> None:
    url = file_server.add("m.bin", DATA)
    seen: list[tuple[int, int | None]] = []
    out = tmp_path / "m.bin"
    got = fetch(url, out, expected_size=len(DATA), progress=lambda d, t: seen.append((d, t)))
    assert got == sha256(DATA)
    assert out.read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize(("status", "text"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500")])
def test_http_errors(file_server: Any, tmp_path: Path, status: int, text: str) -> None:
    url = file_server.add("m.bin", DATA, status=status)
    with pytest.raises(DownloadError, match=text) as info:
        fetch(url, tmp_path / "m.bin")
    assert url in str(info.value)
    assert "\n" not in str(info.value)


def test_a_route_that_does_not_exist_is_a_404(file_server: Any, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(file_server.url("nothing.bin"), tmp_path / "m.bin")


def test_connection_closed_mid_body(file_server: Any, tmp_path: Path) -> None:
    url = file_server.add("m.bin", DATA, truncate_at=1000)
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "m.bin")
    assert f"connection closed after 1000 of {len(DATA)} bytes" in str(info.value)


def test_cut_short_without_content_length_is_caught_by_the_catalogued_size(
    file_server: Any, tmp_path: Path
) -> None:
    url = file_server.add("m.bin", DATA, truncate_at=5000, content_length=False)
    with pytest.raises(DownloadError, match=f"after 5000 of {len(DATA)} bytes"):
        fetch(url, tmp_path / "m.bin", expected_size=len(DATA))


def test_a_different_size_is_refused_before_reading_the_body(
    file_server: Any, tmp_path: Path
) -> None:
    url = file_server.add("m.bin", DATA)
    with pytest.raises(DownloadError, match="is 102400 bytes, expected 99: not the catalogued"):
        fetch(url, tmp_path / "m.bin", expected_size=99)


def test_more_bytes_than_catalogued_without_content_length(
    file_server: Any, tmp_path: Path
) -> None:
    url = file_server.add("m.bin", DATA, content_length=False)
    with pytest.raises(DownloadError, match="sent more than the expected 1000 bytes"):
        fetch(url, tmp_path / "m.bin", expected_size=1000)


def test_a_stalled_server_times_out(file_server: Any, tmp_path: Path) -> None:
    url = file_server.add("m.bin", DATA, stall_after=100)
    with pytest.raises(DownloadError, match=r"interrupted after 100 bytes: no data for 0.3 s"):
        fetch(url, tmp_path / "m.bin", timeout_s=0.3)


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=f"127.0.0.1:{port} refused the connection"):
        fetch(f"http://127.0.0.1:{port}/m.bin", tmp_path / "m.bin", timeout_s=2)


def test_offline_no_dns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DownloadError, match=r"cannot resolve models.example \(offline, or no DNS"):
        fetch("https://models.example/m.bin", tmp_path / "m.bin", timeout_s=2)


def test_disk_full_on_a_real_tiny_filesystem(
    file_server: Any, tiny_fs: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC from a 64 kB tmpfs; where mounting is not allowed, the same error
    is injected where a full disk reports it last (fsync)."""
    url = file_server.add("m.bin", DATA)
    if tiny_fs is None:
        tiny_fs = tmp_path

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(download.os, "fsync", full)
    with pytest.raises(DownloadError) as info:
        with temp_file(tiny_fs, "m.bin") as tmp:
            fetch(url, tmp)
    assert str(info.value).startswith(f"disk full writing {tiny_fs}")
    assert leftovers(tiny_fs) == []


def test_temp_file_is_removed_on_error_and_install_never_overwrites(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), temp_file(tmp_path, "m.bin") as tmp:
        tmp.write_bytes(b"x")
        raise RuntimeError("boom")
    assert leftovers(tmp_path) == []
    (tmp_path / "m.bin").write_bytes(b"old")
    with temp_file(tmp_path, "m.bin") as tmp:
        tmp.write_bytes(b"new")
        with pytest.raises(DestinationError, match="appeared while downloading; not overwriting"):
            install(tmp, tmp_path / "m.bin", replace=False)
    assert (tmp_path / "m.bin").read_bytes() == b"old"
    with temp_file(tmp_path, "m.bin") as tmp:
        tmp.write_bytes(b"new")
        install(tmp, tmp_path / "m.bin", replace=True)
    assert (tmp_path / "m.bin").read_bytes() == b"new"
    assert oct((tmp_path / "m.bin").stat().st_mode & 0o777) == oct(0o644)
    assert leftovers(tmp_path) == ["m.bin"]


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_extract_member(tmp_path: Path) -> None:
    archive = tmp_path / "a.whl"
    archive.write_bytes(make_zip({"pkg/data/m.tflite": DATA}))
    out = tmp_path / "m.tflite"
    assert extract_member(archive, "pkg/data/m.tflite", out, len(DATA)) == sha256(DATA)
    assert out.read_bytes() == DATA
    with pytest.raises(DownloadError, match=r"the downloaded archive has no pkg/x\.tflite"):
        extract_member(archive, "pkg/x.tflite", out, len(DATA))
    with pytest.raises(DownloadError, match="is 102400 bytes, expected 10"):
        extract_member(archive, "pkg/data/m.tflite", out, 10)
    archive.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a valid zip"):
        extract_member(archive, "pkg/data/m.tflite", out, len(DATA))
