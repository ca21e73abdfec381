"""A folder or glob of still images, in name order, as frames; and
:func:`read_image`, the one way the app reads an image file."""

from __future__ import annotations

import glob
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from camera_app.errors import ImageError, SourceError
from camera_app.frames import Frame, SourceInfo
from camera_app.native import native_output
from camera_app.sources.base import BaseSource

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
EXPECTED_IMAGE = "expected a JPEG, PNG, BMP, WebP, TIFF or PPM/PGM image"


def is_glob(spec: str) -> bool:
    return any(c in spec for c in "*?[")


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR (EXIF orientation applied, as ``cv2.imread``).

    Raises ``ImageError`` with one line naming the file and why: missing,
    not a regular file, unreadable, empty, or not an image (with the
    decoder's own complaint, e.g. "Premature end of JPEG file", which would
    otherwise be printed to stderr by libjpeg).
    """
    p = Path(path)
    if not p.is_file():  # also refuses FIFOs and devices, which could block
        raise ImageError(
            f"image not found: {p}" if not p.exists() else f"image path is not a file: {p}"
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"image {p}: cannot be read ({e.strerror or e})") from e
    if not data:
        raise ImageError(f"image {p}: cannot be read: the file is empty ({EXPECTED_IMAGE})")
    with native_output(f"image {p}") as out:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        fmt = image_format(data)
        what = f"a damaged or truncated {fmt} file" if fmt else _not_an_image(data)
        raise ImageError(f"image {p}: cannot be read: {what}{out.because()} ({EXPECTED_IMAGE})")
    return image


_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"P5", "PGM"),
    (b"P6", "PPM"),
)


def image_format(data: bytes) -> str | None:
    """The image format the first bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes of a file are UTF-8 text (no NUL)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:  # text, if only a character cut off at the end is bad
        return e.start >= len(head) - 3
    return True


def _not_an_image(data: bytes) -> str:
    if looks_like_text(data[:512]):
        return "not an image (it is text)"
    return "not an image (unrecognised content)"


class ImageFolderSource(BaseSource):
    kind = "images"

    def __init__(self, spec: str, loop: bool = False) -> None:
        super().__init__(spec)
        self.loop = loop
        self._paths: list[Path] = []
        self._unreadable: set[Path] = set()
        """Files already reported as unreadable: skipped without a warning."""
        self._pos = 0

    def start(self) -> SourceInfo:
        spec = self.name
        if is_glob(spec):
            paths = [Path(p) for p in sorted(glob.glob(spec))]
        elif Path(spec).is_dir():
            paths = sorted(p for p in Path(spec).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif Path(spec).exists():
            paths = [Path(spec)]
        else:
            raise SourceError(f"image source not found: {spec}")
        paths = [p for p in paths if p.is_file()]
        if not paths:
            raise SourceError(
                f"image source {spec}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self._paths = paths
        first: np.ndarray | None = None
        errors: list[ImageError] = []
        for path in paths:
            try:
                first = read_image(path)
                break
            except ImageError as e:
                errors.append(e)
                self._unreadable.add(path)
        if first is None:
            if len(paths) == 1 and paths[0] == Path(spec):  # one file, named as such
                raise SourceError(str(errors[0])) from errors[0]
            raise SourceError(
                f"image source {spec}: none of its {len(paths)} files can be read as an image "
                f"(first: {errors[0]})"
            ) from errors[0]
        if errors:
            log.warning(
                "image source %s: skipping %d unreadable file(s) (first: %s)",
                spec,
                len(errors),
                errors[0],
            )
        h, w = first.shape[:2]
        self._info = SourceInfo(name=spec, kind=self.kind, size_wh=(w, h), frame_count=len(paths))
        log.debug("images %s: %d files", spec, len(paths))
        return self._info

    def _try_load(self, path: Path) -> np.ndarray | None:
        if path in self._unreadable:
            return None
        try:
            return read_image(path)
        except ImageError as e:
            self._unreadable.add(path)
            log.warning("%s; skipped", e)
            return None

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        if self._stopping.is_set():
            return None
        image, path = None, self._paths[0]
        for _ in range(len(self._paths)):  # at most one pass over unreadable files
            if self._pos >= len(self._paths):
                if not self.loop:
                    return None
                self._pos = 0
            path = self._paths[self._pos]
            self._pos += 1
            image = self._try_load(path)
            if image is not None:
                break
        if image is None:
            return None
        h, w = image.shape[:2]
        info = (
            self.info
            if (w, h) == self.info.size_wh
            else SourceInfo(name=str(path), kind=self.kind, size_wh=(w, h))
        )
        return Frame(image, self._take_id(), time.monotonic_ns(), info, meta={"path": str(path)})
