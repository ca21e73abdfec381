"""A folder or glob of still images, in name order, as frames."""

from __future__ import annotations

import glob
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from camera_app.errors import SourceError
from camera_app.frames import Frame, SourceInfo
from camera_app.sources.base import BaseSource

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def is_glob(spec: str) -> bool:
    return any(c in spec for c in "*?[")


class ImageFolderSource(BaseSource):
    kind = "images"

    def __init__(self, spec: str, loop: bool = False) -> None:
        super().__init__(spec)
        self.loop = loop
        self._paths: list[Path] = []
        self._pos = 0

    def start(self) -> SourceInfo:
        spec = self.name
        if is_glob(spec):
            paths = [Path(p) for p in sorted(glob.glob(spec))]
        elif Path(spec).is_dir():
            paths = sorted(p for p in Path(spec).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif Path(spec).is_file():
            paths = [Path(spec)]
        else:
            raise SourceError(f"image source not found: {spec}")
        paths = [p for p in paths if p.is_file()]
        if not paths:
            raise SourceError(
                f"image source {spec}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self._paths = paths
        first = None
        for path in paths:
            first = self._try_load(path)
            if first is not None:
                break
        if first is None:
            raise SourceError(
                f"image source {spec}: none of its {len(paths)} files can be read as an image"
            )
        h, w = first.shape[:2]
        self._info = SourceInfo(name=spec, kind=self.kind, size_wh=(w, h), frame_count=len(paths))
        log.debug("images %s: %d files", spec, len(paths))
        return self._info

    @staticmethod
    def _try_load(path: Path) -> np.ndarray | None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("image %s: cannot be read (not an image OpenCV can decode); skipped", path)
        return image

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
