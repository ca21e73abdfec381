"""camera_app.catalogue: parsing, validation, the override file, lookup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from camera_app.catalogue import CATALOGUE_ENV, find, load_catalogue, parse
from camera_app.errors import ConfigError, UsageError

SHA = "ab" * 32


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "m1",
        "family": "ssd",
        "task": "detection",
        "input_size_wh": [300, 300],
        "file": "m1.tflite",
        "url": "https://example.org/m1.tflite",
        "sha256": SHA,
        "labels": {"builtin": "face"},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def test_builtin_catalogue_loads_and_round_trips_through_json() -> None:
    entries, source = load_catalogue()
    assert source == "built-in"
    assert len(entries) >= 8
    again = parse(json.loads(json.dumps({"models": [e.to_json() for e in entries]})), "copy")
    assert again == entries


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"name": "Bad Name"}, "models[0].name: expected lowercase"),
        ({"url": "ftp://x/m"}, "models[0].url: expected an http:// or https:// URL"),
        ({"sha256": "abc"}, "models[0].sha256: expected 64 lowercase hex digits"),
        ({"sha256": ...}, "models[0].sha256: expected 64 lowercase hex digits"),
        ({"file": "../evil.tflite"}, "models[0].file: expected a plain file name"),
        ({"file": "sub/m.tflite"}, "models[0].file: expected a plain file name"),
        ({"family": "nope"}, "models[0].family: expected one of"),
        ({"task": "dance"}, "models[0].task: expected one of"),
        ({"input_size_wh": [0, 3]}, "models[0].input_size_wh: expected a list of 2 integers"),
        ({"input_size_wh": ...}, "models[0].input_size_wh: required"),
        ({"size_bytes": -1}, "models[0].size_bytes: expected an integer >= 1"),
        ({"sizebytes": 1}, 'unknown key "sizebytes" in [models[0]] (did you mean "size_bytes"?)'),
        ({"labels": {"url": "https://x/l.txt"}}, "models[0].labels.sha256: expected 64"),
        (
            {"labels": {"url": "https://x/l", "sha256": SHA, "file": "m1.tflite"}},
            "models[0].labels.file: same name as models[0].file",
        ),
        ({"labels": {}}, "models[0].labels: expected url + sha256 + file, or builtin"),
        (
            {"labels": {"builtin": "face", "url": "https://x/l"}},
            "models[0].labels: either builtin or url",
        ),
        ({"archive_sha256": SHA}, "models[0].archive_sha256: needs models[0].archive_member"),
    ],
)
def test_a_bad_entry_is_one_error_naming_the_key(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse({"models": [entry(**over)]}, "catalogue c.json")
    assert str(info.value).startswith("catalogue c.json: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'expected {"models": [ ... ]}'),
        ({"models": []}, "no models listed"),
        ({"models": [entry(), entry()]}, '"m1" appears twice'),
        ({"models": [entry()], "extra": 1}, 'expected {"models": [ ... ]}'),
    ],
)
def test_bad_catalogue_shapes(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=r"catalogue c\.json: ") as info:
        parse(data, "catalogue c.json")
    assert message in str(info.value)


def test_override_from_the_environment_replaces_the_builtin_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cat.json"
    path.write_text(json.dumps({"models": [entry(size_bytes=None)]}))
    monkeypatch.setenv(CATALOGUE_ENV, str(path))
    entries, source = load_catalogue()
    assert source == str(path)
    assert [e.name for e in entries] == ["m1"]
    assert entries[0].size_bytes is None  # JSON null means absent
    # an explicit path wins over the environment
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"models": [entry(name="m2")]}))
    assert [e.name for e in load_catalogue(other)[0]] == ["m2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "JSON syntax error"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_unreadable_override_files(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "cat.json"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"catalogue {path}: {message}"):
        load_catalogue(path)


def test_find_names_the_choices_and_suggests_a_close_one() -> None:
    entries = parse({"models": [entry(), entry(name="blazeface-short")]}, "c")
    assert find(entries, "m1").name == "m1"
    with pytest.raises(UsageError) as info:
        find(entries, "blazeface-shrt")
    assert info.value.exit_code == 2
    assert 'did you mean "blazeface-short"?' in str(info.value)
    assert "expected one of: m1, blazeface-short" in str(info.value)
