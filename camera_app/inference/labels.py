"""Class labels: plain lists, ``id name`` / ``id: name`` maps, metadata labels.

Formats understood:

* one label per line, line N naming class N (``n/a``, ``???`` and empty
  names mark unused ids);
* ``id name`` or ``id: name`` pairs, with gaps (picamera2's COCO file);
* labels embedded in the model's metadata: a ``.tflite`` with metadata is
  also a zip archive whose associated ``.txt`` file holds the labels.

A label *offset* shifts names against class ids. It is detected when a plain
file starts with ``???`` or ``background`` and has exactly one label more
than the model has classes (the TF object-detection label maps), and can be
set explicitly with ``--label-offset``.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from camera_app.errors import ConfigError, LabelsError

log = logging.getLogger(__name__)

_PLACEHOLDERS = frozenset({"", "n/a", "???", "unused", "__background__"})
_BACKGROUND_FIRST = frozenset({"???", "background", "__background__", "unlabeled"})
_ID_LINE = re.compile(r"^\s*(\d+)\s*(?::\s*|\s+)(\S.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Labels:
    """Names by class id, after the offset is applied."""

    entries: dict[int, str]
    """Names by index in the file (before the offset)."""
    source: str
    """Where they came from: a path, or ``metadata:<member>``."""
    offset: int = 0
    plain: bool = True
    """One-per-line file (index = line number) rather than an id map."""

    def name(self, class_id: int) -> str | None:
        label = self.entries.get(int(class_id) + self.offset)
        if label is None or label.lower() in _PLACEHOLDERS:
            return None
        return label

    @property
    def count(self) -> int:
        """Number of class ids the labels cover (after the offset)."""
        return (max(self.entries) + 1 - self.offset) if self.entries else 0

    def with_offset(self, offset: int) -> Labels:
        return Labels(self.entries, self.source, offset, self.plain)

    def first_label(self) -> str | None:
        return self.entries.get(0)

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "count": self.count, "offset": self.offset}

    def class_id_of(self, name: str) -> int | None:
        """The class id that carries ``name`` (case-insensitive), if any."""
        wanted = name.strip().lower()
        for idx, label in self.entries.items():
            if label.lower() == wanted:
                return idx - self.offset
        return None


def parse_labels(text: str, source: str) -> Labels:
    """Parse the text of a labels file; raises ``LabelsError`` naming the line."""
    lines = text.splitlines()
    # Trailing prose after a blank line (the PASCAL VOC file has a note) ends the list.
    while lines and not lines[-1].strip():
        lines.pop()
    stripped = [ln.strip() for ln in lines]
    if "" in stripped:
        cut = stripped.index("")
        # A blank line marks an unused id; only trailing prose (the PASCAL VOC
        # file's note, sentences longer than any label) ends the list.
        if cut > 0 and any(len(t.split()) > 8 for t in stripped[cut:]):
            log.debug(
                "labels %s: ignoring %d lines after the blank line %d",
                source,
                len(lines) - cut,
                cut + 1,
            )
            lines = lines[:cut]
    if not lines:
        raise LabelsError(f"labels file {source}: no labels in it")
    matched = [_ID_LINE.match(ln) for ln in lines]
    n_id = sum(m is not None for m in matched)
    if n_id == len(lines) and not _looks_plain(lines):
        entries: dict[int, str] = {}
        for lineno, m in enumerate(matched, start=1):
            assert m is not None
            idx = int(m.group(1))
            if idx in entries:
                raise LabelsError(f"labels file {source}: line {lineno}: id {idx} appears twice")
            entries[idx] = m.group(2)
        return Labels(entries, source, 0, plain=False)
    if n_id == len(lines):  # every line is "id name", but the ids do not increase
        ids = [int(m.group(1)) for m in matched if m is not None]
        at = next(i for i in range(1, len(ids)) if ids[i] <= ids[i - 1])
        what = "appears twice" if ids[at] in ids[:at] else "is smaller than the one before"
        raise LabelsError(f"labels file {source}: line {at + 1}: id {ids[at]} {what}")
    if n_id > len(lines) // 2:
        bad = next(i for i, m in enumerate(matched, start=1) if m is None)
        raise LabelsError(
            f"labels file {source}: line {bad}: expected 'id name' like the other lines, "
            f"got {lines[bad - 1].strip()!r}"
        )
    return Labels({i: ln.strip() for i, ln in enumerate(lines)}, source, 0, plain=True)


def _looks_plain(lines: list[str]) -> bool:
    """A plain file whose names merely start with digits ("1 tench"...)?

    Real id maps have ids that increase; names like "3d glasses" do not.
    """
    ids = [int(m.group(1)) for m in (_ID_LINE.match(ln) for ln in lines) if m]
    return any(b <= a for a, b in itertools.pairwise(ids))


def load_labels(path: str | Path) -> Labels:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise LabelsError(f"labels file not found: {p}") from None
    except OSError as e:
        raise LabelsError(f"labels file {p}: cannot read it ({e.strerror})") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LabelsError(f"labels file {p}: not UTF-8 text (byte {e.start})") from e
    if "\x00" in text:
        raise LabelsError(f"labels file {p}: binary data, expected one label per line")
    return parse_labels(text, str(p))


def metadata_labels(model_path: str | Path) -> Labels | None:
    """Labels from a model's metadata (the zip-appended associated files)."""
    try:
        with zipfile.ZipFile(model_path) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith(".txt")]
            preferred = [n for n in members if "label" in n.lower()] or members
            if not preferred:
                return None
            member = preferred[0]
            text = zf.read(member).decode("utf-8-sig")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return None
    return parse_labels(text, f"metadata:{member}")


def resolve_offset(labels: Labels, num_classes: int | None, explicit: int | None) -> Labels:
    """Apply an explicit offset, or detect one, and warn on count mismatches."""
    if explicit is not None:
        if not 0 <= explicit < max(labels.entries, default=0) + 1:
            raise LabelsError(
                f"label offset {explicit}: expected 0 to {max(labels.entries, default=0)} "
                f"for labels {labels.source} ({len(labels.entries)} lines)"
            )
        labels = labels.with_offset(explicit)
    elif (
        labels.plain
        and num_classes is not None
        and (labels.first_label() or "").lower() in _BACKGROUND_FIRST
        and len(labels.entries) == num_classes + 1
    ):
        log.info(
            "labels %s: first line %r is a placeholder and there is one label more than the "
            "model's %d classes: using label offset 1",
            labels.source,
            labels.first_label(),
            num_classes,
        )
        labels = labels.with_offset(1)
    if num_classes is not None and labels.count != num_classes:
        diff = labels.count - num_classes
        log.warning(
            "labels %s cover %d class ids but the model has %d classes (%d %s); "
            "check the file or set --label-offset",
            labels.source,
            labels.count,
            num_classes,
            abs(diff),
            "too many" if diff > 0 else "too few",
        )
    return labels


def resolve_classes(names_or_ids: tuple[int | str, ...], labels: Labels | None) -> tuple[int, ...]:
    """``detect.classes`` as class ids: names are looked up in the model's labels."""
    ids: list[int] = []
    for item in names_or_ids:
        if isinstance(item, int):
            ids.append(item)
            continue
        if labels is None:
            raise ConfigError(
                f'detect.classes: class name "{item}" needs labels (model.labels, or labels in the model\'s metadata); use class ids instead'
            )
        cid = labels.class_id_of(item)
        if cid is None:
            names = [n for n in labels.entries.values() if n]
            close = difflib.get_close_matches(item.lower(), [n.lower() for n in names], n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise ConfigError(
                f'detect.classes: unknown class "{item}" in labels {labels.source}{hint}'
            )
        ids.append(cid)
    return tuple(dict.fromkeys(ids))
