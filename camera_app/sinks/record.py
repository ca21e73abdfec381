"""Recording the annotated stream to a video file.

The writer is opened on the first frame (its size is then known) and
released on close, which the pipeline guarantees on end, on Ctrl-C and on
SIGTERM, so the file's index is written and it plays.

* ``.mp4``/``.mov``/``.m4v``: MPEG-4 Part 2 (``mp4v``, in every OpenCV
  build), encoded by FFmpeg. Small files, but the most CPU per frame: at
  1080p about 11 ms here (a third of it FFmpeg's BGR to YUV conversion).
* ``.avi``/``.mkv``: Motion JPEG. Each frame is compressed by libjpeg-turbo
  (``cv2.imencode``, SIMD, about 4 ms at 1080p here) and only muxed by
  FFmpeg (``VIDEOWRITER_PROP_RAW_VIDEO``): the cheapest software recording
  for a CPU-bound Pi, at several times the file size. An ``.avi`` plays
  after a hard kill (no index; FFmpeg's 256 KB write buffer is lost, about a
  second of full HD); an ``.mkv`` also loses its last cluster (FFmpeg's
  default: up to 5 s). Where raw muxing is not available (older OpenCV),
  FFmpeg's own MJPEG encoder is used.

Live sources drop frames when inference is slower than the camera, and a
file written at the camera's frame rate would then play too fast. Motion JPEG
recordings of live sources therefore follow the frames' capture times: an
``.mkv`` gets each frame's timestamp (variable frame rate), an ``.avi``
repeats the previous frame's JPEG (bytes only, no encoding) to fill a gap of
up to a second. An ``.mp4`` gets one frame per result at the source's rate
(re-encoding repeated frames would cost what the drops saved).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from camera_app.components import Flag
from camera_app.errors import SinkError
from camera_app.results import FrameResult
from camera_app.sinks.jsonl import check_output_path
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".m4v": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
DEFAULT_JPEG_QUALITY = 80


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """[sinks.record] the annotated video."""

    path: str | None = opt(None, "output .mp4, .avi or .mkv")
    fps: float | None = opt(None, "frame rate written; absent: the source's", gt=0, le=1000)
    jpeg_quality: int = opt(DEFAULT_JPEG_QUALITY, "Motion JPEG (.avi, .mkv) quality", ge=1, le=100)


CONFIG = RecordConfig
FLAGS = (
    Flag("--record", "path", "record the annotated stream (.mp4, .avi, .mkv)", metavar="PATH"),
)


def build(config: RecordConfig, ctx: BuildContext) -> RecordSink | None:
    if not config.path:
        return None
    return RecordSink(
        config.path, ctx.shared_annotator(), fps=config.fps, jpeg_quality=config.jpeg_quality
    )


def describe(config: RecordConfig) -> str | None:
    return f"record {config.path}" if config.path else None


class RecordSink(AnnotatingSink):
    name = "record"

    def __init__(
        self,
        path: str,
        annotator: Annotator | None = None,
        fps: float | None = None,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise SinkError(
                f"recording {self.path}: unsupported file type {suffix or '(none)'}; "
                f"expected one of {', '.join(sorted(FOURCC))}"
            )
        if not 1 <= jpeg_quality <= 100:
            raise SinkError(
                f"recording {self.path}: JPEG quality must be 1..100, got {jpeg_quality}"
            )
        check_output_path(self.path, "recording")
        self.fourcc = FOURCC[suffix]
        self._avi = suffix == ".avi"
        self.annotator = annotator or Annotator()
        self.fps = fps
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self._writer: cv2.VideoWriter | None = None
        self._size_wh: tuple[int, int] | None = None
        self.raw_jpeg = False
        """True once open: frames are JPEG-compressed here and only muxed by FFmpeg."""
        self.frames_written = 0
        """Frames in the file (repeats included)."""
        self._fps = 0.0
        self._timed = False  # live source, raw MJPEG: place frames by capture time
        self._t0_ns = 0
        self._index = -1  # position of the last frame written, in frames
        self._last_packet = np.empty((1, 0), np.uint8)

    def _open(self, size_wh: tuple[int, int], fps: float) -> cv2.VideoWriter:
        fourcc = cv2.VideoWriter.fourcc(*self.fourcc)
        if self.fourcc == "MJPG" and hasattr(cv2, "VIDEOWRITER_PROP_RAW_VIDEO"):
            writer = cv2.VideoWriter(
                str(self.path), cv2.CAP_FFMPEG, fourcc, fps, size_wh,
                [cv2.VIDEOWRITER_PROP_RAW_VIDEO, 1],
            )  # fmt: skip
            if writer.isOpened():
                self.raw_jpeg = True
            else:
                writer.release()
                log.debug("recording %s: no raw MJPEG muxing here; FFmpeg encodes", self.path)
        if not self.raw_jpeg:
            writer = cv2.VideoWriter(str(self.path), fourcc, fps, size_wh)
            if not writer.isOpened():
                raise SinkError(
                    f"recording {self.path}: OpenCV cannot write {self.fourcc} video here"
                )
        log.info("recording to %s (%s, %dx%d, %.1f fps)", self.path, self.fourcc, *size_wh, fps)
        return writer

    def handle(self, result: FrameResult) -> None:
        image = self.annotator.annotate(result)
        h, w = image.shape[:2]
        frame = result.frame
        if self._writer is None:
            self._fps = self.fps or frame.source.fps or 10.0
            self._writer, self._size_wh = self._open((w, h), self._fps), (w, h)
            self._timed = self.raw_jpeg and frame.source.live
            self._t0_ns = frame.timestamp_ns
        elif (w, h) != self._size_wh:
            image = cv2.resize(image, self._size_wh)
        if not self.raw_jpeg:
            self._writer.write(image)
            self.frames_written += 1
            return
        ok, jpeg = cv2.imencode(".jpg", image, self._jpeg_params)
        if not ok:
            raise SinkError(f"recording {self.path}: JPEG encoding failed")
        packet = np.reshape(jpeg, (1, -1))
        index = self._index + 1
        if self._timed:
            due = round((frame.timestamp_ns - self._t0_ns) * self._fps / 1e9)
            index = max(index, due)
            if self._avi:  # constant frame rate: repeat the last picture
                for _ in range(min(index - self._index - 1, int(self._fps))):
                    self._writer.write(self._last_packet)
                    self.frames_written += 1
            else:
                self._writer.set(cv2.VIDEOWRITER_PROP_PTS, index)
        self._writer.write(packet)
        self._index, self._last_packet = index, packet
        self.frames_written += 1

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
            log.info("recording %s: %d frames", self.path, self.frames_written)
