"""Associated files packed into a .tflite, the way TFLite metadata does it.

A .tflite with associated files is the model's flatbuffer followed by a zip
archive (tflite-support's ``MetadataPopulator`` opens the model file with
``zipfile.ZipFile(path, "a")`` and writes each file into it). The
interpreter reads only the flatbuffer and ignores the bytes after it, while
``zipfile.ZipFile(model_path)`` finds the archive from the end of the file;
:func:`camera_app.inference.labels.metadata_labels` reads labels back that
way. Members are stored uncompressed (``ZIP_STORED``): the C++ metadata
extractors of tflite-support and MediaPipe refuse compressed members.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from camera_app.errors import LabelsError
from camera_app.inference.labels import load_labels

log = logging.getLogger(__name__)

LABELS_MEMBER = "labels.txt"


def read_labels_text(path: str | Path) -> tuple[str, int]:
    """A labels file's text (UTF-8, ``\\n`` line ends) and its label count.

    Validated with the runtime's own parser, so a file the app cannot read
    is refused here rather than on the Pi.
    """
    labels = load_labels(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:  # load_labels checked both already
        raise LabelsError(f"labels file {path}: {e}") from e
    lines = text.splitlines()
    return "\n".join(lines) + "\n", labels.count


def append_associated_files(model_path: str | Path, files: dict[str, bytes]) -> None:
    """Append ``files`` (member name -> bytes) as a zip after the flatbuffer in ``model_path``."""
    with zipfile.ZipFile(model_path, mode="a", compression=zipfile.ZIP_STORED) as zf:
        existing = set(zf.namelist())
        for name, data in files.items():
            if name in existing:
                raise LabelsError(f"{model_path}: associated file {name!r} is already packed")
            zf.writestr(name, data)
    log.debug("packed %s into %s", ", ".join(files), model_path)


def associated_files(model_path: str | Path) -> list[str]:
    """Names of the files packed after the flatbuffer (empty when there are none)."""
    try:
        with zipfile.ZipFile(model_path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return []
