"""Fixtures for the catalogue tests: a local HTTP server, catalogue files
pointing at it, a tiny full filesystem.

Tests marked ``network`` reach the real PyPI; they run only with
``CAMERA_APP_NETWORK_TESTS=1`` (deselected otherwise, not skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FAKES = Path(__file__).resolve().parent.parent / "fakes"
NETWORK_ENV = "CAMERA_APP_NETWORK_TESTS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"network: reaches PyPI; runs with {NETWORK_ENV}=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(NETWORK_ENV) == "1":
        return
    keep = [i for i in items if i.get_closest_marker("network") is None]
    dropped = [i for i in items if i.get_closest_marker("network") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def file_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(FAKES))
    from http_files import FileServer

    with FileServer() as server:
        yield server


def entry_dict(
    name: str,
    url: str,
    data: bytes,
    *,
    file: str = "model.tflite",
    family: str = "ssd",
    labels: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A catalogue entry for ``data`` served at ``url``."""
    return {
        "name": name,
        "title": f"test model {name}",
        "family": family,
        "task": "detection",
        "input_size_wh": [300, 300],
        "file": file,
        "url": url,
        "sha256": sha256(data),
        "size_bytes": len(data),
        "licence": "Apache-2.0",
        "labels": labels if labels is not None else {"builtin": "thing"},
        **extra,
    }


def labels_dict(url: str, data: bytes, file: str = "labels.txt") -> dict[str, Any]:
    return {"url": url, "sha256": sha256(data), "file": file, "size_bytes": len(data)}


@pytest.fixture()
def make_entry() -> Callable[..., dict[str, Any]]:
    """``make_entry(name, url, data, file=..., labels=...)``: a catalogue entry dict."""
    return entry_dict


@pytest.fixture()
def make_labels() -> Callable[..., dict[str, Any]]:
    """``make_labels(url, data, file=...)``: the labels part of an entry dict."""
    return labels_dict


@pytest.fixture()
def write_catalogue(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[list[dict[str, Any]]], Path]:
    """Write ``{"models": entries}`` to a JSON file (outside ``tmp_path``)."""

    def write(entries: list[dict[str, Any]]) -> Path:
        path = tmp_path_factory.mktemp("catalogue") / "catalogue.json"
        path.write_text(json.dumps({"models": entries}))
        return path

    return write


@pytest.fixture()
def tiny_fs(tmp_path: Path) -> Iterator[Path | None]:
    """A 64 kB tmpfs (a disk that fills up), or None where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    try:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        yield None
        return
    if proc.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=10)
