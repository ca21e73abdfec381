"""Pull one catalogue entry (model and labels) into a folder.

Files already there with the catalogued sha256 are kept; a file there with
another sha256 is never replaced unless ``force``. Everything is checked
before anything is downloaded, so a refusal costs no bandwidth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camera_app.catalogue import Entry
from camera_app.catalogue.download import (
    DEFAULT_TIMEOUT_S,
    MAX_UNKNOWN_BYTES,
    DestinationError,
    Progress,
    check_sha256,
    extract_member,
    fetch,
    install,
    sha256_of,
    temp_file,
)

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], Progress | None]
"""``progress_for(file_name)`` gives the callback for one download (or None)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One file to put in the destination folder."""

    file: str
    url: str
    sha256: str
    size_bytes: int | None = None
    archive_member: str | None = None
    archive_sha256: str | None = None


@dataclass(slots=True)
class PullResult:
    entry: Entry
    model_path: Path
    labels_path: Path | None
    fetched: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)
    """Already there with the right sha256 (kept, not downloaded)."""


def items(entry: Entry) -> list[Item]:
    model = Item(
        entry.file,
        entry.url,
        entry.sha256,
        entry.size_bytes,
        entry.archive_member,
        entry.archive_sha256,
    )
    lab = entry.labels
    if lab.builtin is not None or lab.url is None:
        return [model]
    assert lab.file is not None and lab.sha256 is not None, "validated by the catalogue"
    return [model, Item(lab.file, lab.url, lab.sha256, lab.size_bytes)]


def _state(path: Path, sha256: str, force: bool) -> bool:
    """True when ``path`` already holds the file; raises when it holds another."""
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_file():
        raise DestinationError(f"{path} exists and is not a file; not replacing it")
    try:
        got = sha256_of(path)
    except OSError as e:
        raise DestinationError(f"{path} exists and cannot be read ({e.strerror})") from e
    if got == sha256:
        return True
    if force:
        return False
    raise DestinationError(
        f"{path} exists with another sha256 ({got[:12]}..., expected {sha256[:12]}...); "
        "not overwriting it (--force replaces it)"
    )


def _download(
    item: Item, dest: Path, timeout_s: float, progress: Progress | None, force: bool
) -> None:
    final = dest / item.file
    with temp_file(dest, item.file) as tmp:
        if item.archive_member is None:
            got = fetch(
                item.url, tmp, expected_size=item.size_bytes, timeout_s=timeout_s, progress=progress
            )
            check_sha256(f"{item.file} from {item.url}", got, item.sha256)
        else:
            with temp_file(dest, item.file + ".archive") as archive:
                got = fetch(item.url, archive, timeout_s=timeout_s, progress=progress)
                if item.archive_sha256 is not None:
                    check_sha256(item.url, got, item.archive_sha256)
                got = extract_member(
                    archive, item.archive_member, tmp, item.size_bytes or MAX_UNKNOWN_BYTES
                )
            check_sha256(f"{item.archive_member} in {item.url}", got, item.sha256)
        install(tmp, final, replace=force)


def pull(
    entry: Entry,
    dest: Path,
    *,
    force: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress_for: ProgressFactory | None = None,
) -> PullResult:
    """Fetch the model and its labels file into ``dest`` (created if needed)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DestinationError(f"cannot create {dest}: {e.strerror or e}") from e
    dest = dest.resolve()
    todo = items(entry)
    result = PullResult(entry, dest / entry.file, dest / todo[1].file if len(todo) > 1 else None)
    missing = []
    for item in todo:  # refuse before downloading anything
        if _state(dest / item.file, item.sha256, force):
            result.present.append(dest / item.file)
        else:
            missing.append(item)
    for item in missing:
        progress = progress_for(item.file) if progress_for is not None else None
        _download(item, dest, timeout_s, progress, force)
        log.info("fetched %s (sha256 %s)", dest / item.file, item.sha256[:12])
        result.fetched.append(dest / item.file)
    return result


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def model_section(result: PullResult) -> str:
    """The ``[model]`` lines that use the pulled files."""
    entry = result.entry
    lines = ["[model]", f"path = {toml_string(str(result.model_path))}"]
    if result.labels_path is not None:
        lines.append(f"labels = {toml_string(str(result.labels_path))}")
    else:
        lines.append(f"# labels: built in ({entry.labels.builtin})")
    lines.append(f"family = {toml_string(entry.family)}")
    return "\n".join(lines)
