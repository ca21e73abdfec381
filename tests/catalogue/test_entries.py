"""The built-in catalogue's data: the entries the issue asks for, checksums
tied to the real files where we have them, and every entry pullable.

The fixture models are the publishers' files; where an entry's sha256 equals a
fixture's, the fixture is served locally under that entry and pulled with
the built-in checksums, so those are checked against real bytes here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camera_app.catalogue import load_catalogue
from camera_app.catalogue.entries import BUILTIN
from camera_app.catalogue.pull import pull
from camera_app.inference.model import Model, ModelOptions

REQUIRED = {
    "coco-ssd-mobilenet-v1": ("ssd", "detection"),
    "ssdlite-mobiledet-coco": ("ssd", "detection"),
    "efficientdet-lite0": ("ssd", "detection"),
    "mobilenet-v2-imagenet": ("classification", "classification"),
    "movenet-lightning": ("movenet", "pose"),
    "movenet-thunder": ("movenet", "pose"),
    "deeplabv3-pascal": ("segmentation", "segmentation"),
    "blazeface-short": ("blazeface", "face-detection"),
    "blazeface-full": ("blazeface", "face-detection"),
}
PUBLISHERS = (
    "https://storage.googleapis.com/",
    "https://raw.githubusercontent.com/google-coral/test_data/",
    "https://files.pythonhosted.org/",
    "https://tfhub.dev/google/",
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_issue_entries_are_there_with_their_family_and_task() -> None:
    entries = {e.name: e for e in load_catalogue()[0]}
    assert len(entries) >= 8
    for name, (family, task) in REQUIRED.items():
        assert (entries[name].family, entries[name].task) == (family, task), name


@pytest.mark.parametrize("raw", BUILTIN, ids=lambda r: r["name"])
def test_every_entry_is_complete_and_from_its_publisher(raw: dict[str, Any]) -> None:
    (entry,) = [e for e in load_catalogue()[0] if e.name == raw["name"]]
    assert entry.url.startswith(PUBLISHERS)
    assert entry.licence and entry.title
    assert entry.verified in ("hashed", "published", "third-party")
    assert len(entry.verified_how) > 40, "say how the checksum was verified"
    lab = entry.labels
    assert lab.builtin is not None or (lab.url or "").startswith(PUBLISHERS)
    if "google-coral/test_data/" in entry.url:  # pinned to a commit, not a branch
        ref = entry.url.split("google-coral/test_data/")[1].split("/")[0]
        assert len(ref) == 40


def test_blazeface_entries_keep_the_checksums_make_run_always_used() -> None:
    entries = {e.name: e for e in load_catalogue()[0]}
    # the values models/fetch.py pinned before the catalogue existed
    assert entries["blazeface-short"].sha256.startswith("3bc182eb9f33925d")
    assert entries["blazeface-full"].sha256.startswith("99bf9494d84f50ac")
    assert entries["blazeface-short"].file == "face_detection_short_range.tflite"  # Makefile


def fixture_by_sha(models_dir: Path) -> dict[str, Path]:
    return {sha256_file(p): p for p in sorted(models_dir.iterdir()) if p.is_file()}


def test_hashed_entries_match_the_fixture_files_where_we_have_them(models_dir: Path) -> None:
    by_sha = fixture_by_sha(models_dir)
    matched = {e.name for e in load_catalogue()[0] if e.sha256 in by_sha and e.verified == "hashed"}
    assert {
        "coco-ssd-mobilenet-v1",
        "mobilenet-v2-imagenet",
        "movenet-lightning",
        "deeplabv3-pascal",
    } <= matched
    for e in load_catalogue()[0]:
        if e.labels.sha256 is not None and e.labels.file in {p.name for p in by_sha.values()}:
            assert e.labels.sha256 == sha256_file(models_dir / e.labels.file), e.name


def test_entries_with_fixture_bytes_pull_and_load_with_the_builtin_checksums(
    models_dir: Path,
    file_server: Any,
    write_catalogue: Callable[[list[dict[str, Any]]], Path],
    tmp_path: Path,
) -> None:
    """Built-in entries, only the host swapped for the local server: the real
    sha256 values and sizes must accept the real files, and the pulled model
    must load as the family the entry says."""
    by_sha = fixture_by_sha(models_dir)
    local = []
    for raw in BUILTIN:
        if raw["sha256"] not in by_sha:
            continue
        copy = json.loads(json.dumps(raw))
        copy["url"] = file_server.add(raw["file"], by_sha[raw["sha256"]])
        lab = copy["labels"]
        if "url" in lab:
            lab["url"] = file_server.add(lab["file"], by_sha[lab["sha256"]])
        local.append(copy)
    assert len(local) >= 4
    entries, _ = load_catalogue(write_catalogue(local))
    for entry in entries:
        result = pull(entry, tmp_path / "models")
        assert sha256_file(result.model_path) == entry.sha256
        with Model(
            ModelOptions(
                path=str(result.model_path),
                labels=str(result.labels_path) if result.labels_path else None,
            )
        ) as model:
            assert model.family == entry.family  # detected, as the [model] lines say
            assert tuple(model.info.input.shape[1:3]) == entry.input_size_wh[::-1]
