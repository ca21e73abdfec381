"""Recording the annotated stream to a video file.

The writer is opened on the first frame (its size is then known) and
released on close, which the pipeline guarantees on end, on Ctrl-C and on
SIGTERM, so the file's index is written and it plays. ``.mp4``/``.mov`` use
MPEG-4 Part 2 (``mp4v``, in every OpenCV build); ``.avi``/``.mkv`` Motion
JPEG, which also survives a hard kill up to the last frame written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2

from camera_app.errors import SinkError
from camera_app.results import FrameResult
from camera_app.sinks.jsonl import check_output_path
from camera_app.sinks.overlay import AnnotatingSink, Annotator

log = logging.getLogger(__name__)

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".m4v": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class RecordSink(AnnotatingSink):
    name = "record"

    def __init__(
        self, path: str, annotator: Annotator | None = None, fps: float | None = None
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise SinkError(
                f"recording {self.path}: unsupported file type {suffix or '(none)'}; "
                f"expected one of {', '.join(sorted(FOURCC))}"
            )
        check_output_path(self.path, "recording")
        self.fourcc = FOURCC[suffix]
        self.annotator = annotator or Annotator()
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size_wh: tuple[int, int] | None = None
        self.frames_written = 0

    def _open(self, size_wh: tuple[int, int], fps: float) -> cv2.VideoWriter:
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*self.fourcc), fps, size_wh)
        if not writer.isOpened():
            raise SinkError(f"recording {self.path}: OpenCV cannot write {self.fourcc} video here")
        log.info("recording to %s (%s, %dx%d, %.1f fps)", self.path, self.fourcc, *size_wh, fps)
        return writer

    def handle(self, result: FrameResult) -> None:
        image = self.annotator.annotate(result)
        h, w = image.shape[:2]
        if self._writer is None:
            fps = self.fps or result.frame.source.fps or 10.0
            self._writer, self._size_wh = self._open((w, h), fps), (w, h)
        elif (w, h) != self._size_wh:
            image = cv2.resize(image, self._size_wh)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
            log.info("recording %s: %d frames", self.path, self.frames_written)
