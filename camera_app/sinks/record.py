"""Recording the annotated stream: an adapter over
:class:`~camera_app.recording.recorder.SegmentedRecorder`.

Two ways to record:

* ``path``: one file. An existing file is never overwritten: the recording
  then goes beside it, named with its start time (``rec-2026-11-29T14-02-05Z.mp4``).
* ``dir``: continuous recording in segments of ``segment_s``, named by their
  start time in UTC (``2026-11-29T14-02-05Z.mp4``), kept within the
  retention keys (oldest deleted first, never the file being written). With
  the run's HTTP server (``--http``) they are listed at ``/api/recordings``
  and served at ``/recordings/<name>`` (:mod:`camera_app.sinks.recordings_http`).

The format follows the file type:

* ``.mp4``: H.264 in fragmented MP4: plays after a kill or a power cut
  (losing the last fragment, a quarter of a second) and in browsers.
  ``codec = "auto"`` uses the Pi 4's hardware encoder (``h264_v4l2m2m``)
  when it opens, else libx264 with ``preset`` (``ultrafast``: 8 ms of CPU
  per 1080p frame on the x86 development machine).
* ``.mkv``/``.avi``: Motion JPEG by libjpeg-turbo, the cheapest software
  encoding (4 ms per 1080p frame there, at eight times the size): the choice
  on a busy Pi without a hardware H.264 encoder (a Pi 5).
  ``benchmarks/encoders.py`` measures them.

Timestamps: live sources (cameras, streams, ``--realtime`` replays) record
each frame at its capture time, so a recording with drops plays at real
speed. Files replayed every frame record each frame at its position in the
file (``media_ms``), continued across ``--loop`` restarts, so the recording
plays at the clip's speed however fast inference ran.

Nothing is created before :meth:`RecordSink.bind` (after the run's start-up
checks); the path and settings are checked when the sink is built
(``SinkError``, exit 2). At run time a failed write never raises into the
pipeline: it is logged once, retried with back-off, and shown as the failed
output ``record`` in the stats, ``/healthz``, the status line and the exit
summary, which counts the frames actually written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from camera_app.components import Flag
from camera_app.errors import ConfigError, SinkError
from camera_app.recording.formats import CONTAINERS
from camera_app.recording.retention import Retention
from camera_app.results import FrameResult
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.stats import OutputHealth, PipelineStats
from camera_app.validation import opt

if TYPE_CHECKING:  # PyAV is imported only when a recording is configured
    from camera_app.components import BuildContext
    from camera_app.frames import Frame
    from camera_app.recording.encoder import EncoderOptions

log = logging.getLogger(__name__)

DEFAULT_MIN_FREE_BYTES = 1_000_000_000
"""``dir`` mode keeps this much free unless ``min_free_bytes`` says otherwise."""


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """[sinks.record] the annotated video."""

    path: str | None = opt(None, "one file: .mp4 (H.264), .mkv or .avi (Motion JPEG)")
    dir: str | None = opt(None, "record segments named by start time into this folder")
    format: Literal["mp4", "mkv", "avi"] = opt("mp4", "file type of the segments in dir")
    segment_s: float = opt(60.0, "length of a segment in dir, seconds", ge=0.5, le=86400)
    codec: Literal["auto", "h264", "mjpeg", "libx264", "h264_v4l2m2m"] = opt(
        "auto", "auto (by file type), h264, mjpeg, libx264 or h264_v4l2m2m"
    )
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = opt(
        "ultrafast", "libx264 speed preset (slower: smaller files, more CPU)"
    )
    crf: int = opt(23, "libx264 quality, lower is better and bigger", ge=0, le=51)
    bitrate_bps: int | None = opt(
        None, "hardware H.264 bit rate; absent: about 0.07 bit per pixel", ge=10_000
    )
    fps: float | None = opt(None, "nominal frame rate; absent: the source's", gt=0, le=240)
    jpeg_quality: int = opt(80, "Motion JPEG (.mkv, .avi) quality", ge=1, le=100)
    retain_days: float | None = opt(None, "delete recordings older than this", gt=0, le=36500)
    max_bytes: int | None = opt(None, "total size of recordings kept", ge=1_000_000, le=10**15)
    min_free_bytes: int | None = opt(
        None, "keep this much free; absent: 1 GB with dir; 0: off", ge=0, le=10**15
    )

    def validate(self) -> None:
        if self.path is not None and self.dir is not None:
            raise ConfigError("dir: set path (one file) or dir (segments), not both")
        for key, value in (("path", self.path), ("dir", self.dir)):
            if value is not None and not value.strip():
                raise ConfigError(
                    f'{key}: expected a {"file" if key == "path" else "folder"} path, got ""'
                )
        if self.path is not None or self.dir is not None:
            try:
                _check_suffix(self.suffix)
            except ValueError as e:
                raise ConfigError(f"path: {e}") from None
            try:
                self.options().validate(self.suffix)
            except ValueError as e:
                raise ConfigError(f"codec: {e}") from None

    @property
    def suffix(self) -> str:
        return Path(self.path).suffix.lower() if self.path else f".{self.format}"

    def options(self) -> EncoderOptions:
        from camera_app.recording.encoder import EncoderOptions

        return EncoderOptions(
            codec=self.codec,
            preset=self.preset,
            crf=self.crf,
            bitrate_bps=self.bitrate_bps,
            jpeg_quality=self.jpeg_quality,
        )

    def retention(self) -> Retention:
        min_free = self.min_free_bytes
        if min_free is None and self.dir is not None:
            min_free = DEFAULT_MIN_FREE_BYTES
        return Retention(self.retain_days, self.max_bytes, min_free or None)


def _check_suffix(suffix: str) -> None:
    if suffix not in CONTAINERS:
        expected = ", ".join(sorted(CONTAINERS))
        raise ValueError(f"unsupported file type {suffix or '(none)'}; expected one of {expected}")


def _check_format(suffix: str, options: EncoderOptions) -> None:
    _check_suffix(suffix)
    options.validate(suffix)


CONFIG = RecordConfig
FLAGS = (
    Flag("--record", "path", "record the annotated stream to one file (.mp4, .mkv, .avi)", metavar="PATH"),
    Flag("--record-dir", "dir", "record the annotated stream in segments into DIR", metavar="DIR"),
)  # fmt: skip


def build(config: RecordConfig, ctx: BuildContext) -> RecordSink | None:
    if not (config.path or config.dir):
        return None
    sink = RecordSink.from_config(config, ctx.shared_annotator())
    if ctx.http is not None and sink.directory is not None:
        from camera_app.sinks.recordings_http import add_recording_routes

        add_recording_routes(ctx.http, sink.recorder)
    return sink


def describe(config: RecordConfig) -> str | None:
    if config.dir:
        return f"record {config.dir} ({config.format} segments of {config.segment_s:g} s)"
    return f"record {config.path}" if config.path else None


class RecordSink(AnnotatingSink):
    name = "record"

    def __init__(
        self,
        path: str | None = None,
        annotator: Annotator | None = None,
        *,
        directory: str | None = None,
        suffix: str = ".mp4",
        segment_s: float = 60.0,
        options: EncoderOptions | None = None,
        fps: float | None = None,
        jpeg_quality: int | None = None,
        retention: Retention | None = None,
    ) -> None:
        from camera_app.recording.encoder import EncoderOptions
        from camera_app.recording.recorder import SegmentedRecorder

        if (path is None) == (directory is None):
            raise SinkError("recording: give a file path or a folder, not both or neither")
        options = options or EncoderOptions()
        if jpeg_quality is not None:
            options = replace(options, jpeg_quality=jpeg_quality)
        self.path = Path(path) if path is not None else None
        self.directory = Path(directory) if directory is not None else None
        where = f"recording {path if path is not None else directory}"
        suffix = self.path.suffix.lower() if self.path is not None else suffix
        try:
            _check_format(suffix, options)
        except ValueError as e:
            raise SinkError(f"{where}: {e}") from None
        retention = retention or Retention()
        if self.path is not None:
            self.recorder = SegmentedRecorder.to_file(
                self.path, options=options, retention=replace(retention, pattern=f"{self.path.stem}*{suffix}")
            )  # fmt: skip
            self.recorder.validate()  # the folder exists, the path is not a folder
        else:
            assert self.directory is not None
            _check_folder(self.directory, where)
            self.recorder = SegmentedRecorder.in_directory(
                self.directory, suffix, options=options, segment_s=segment_s,
                retention=replace(retention, pattern=f"*{suffix}"),
            )  # fmt: skip
        self.annotator = annotator or Annotator()
        self.fps = fps
        self._fps_known = False
        self._error: str | None = None
        self._last_ns: int | None = None
        self._offset_ns = 0

    @classmethod
    def from_config(cls, config: RecordConfig, annotator: Annotator | None = None) -> RecordSink:
        return cls(
            config.path,
            annotator,
            directory=config.dir,
            suffix=config.suffix,
            segment_s=config.segment_s,
            options=config.options(),
            fps=config.fps,
            retention=config.retention(),
        )

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        """Create the folder (``dir``) and the first file: the run passed its checks."""
        from camera_app.recording.encoder import hardware_h264_opens

        super().bind(stats, stop)
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise SinkError(
                    f"recording {self.directory}: cannot create the folder ({e.strerror})"
                ) from e
        self._set_fps(self.fps or stats.source.get("fps"))
        options = self.recorder.options
        size = stats.source.get("size_wh")
        if (
            options.codec == "h264_v4l2m2m"
            and size
            and not hardware_h264_opens(tuple(size), options.fps)
        ):
            raise SinkError(f"{self.recorder.what} {self._where}: the h264_v4l2m2m encoder does not open here")  # fmt: skip
        self.recorder.open()
        stats.register_output(self.name, self.output_health)

    @property
    def _where(self) -> Path:
        return self.path if self.path is not None else self.directory  # type: ignore[return-value]

    def _set_fps(self, fps: float | None) -> None:
        if fps and not self._fps_known:
            self._fps_known = True
            self.recorder.set_nominal_fps(float(fps))

    def output_health(self) -> OutputHealth:
        s = self.recorder.state()
        if self._error is not None:
            return OutputHealth(False, self._error, s.written, s.failures + 1)
        detail = "" if s.ok else f"{s.reason} ({s.path}; {s.dropped} frames dropped, retrying)"
        return OutputHealth(s.ok, detail, s.written, s.failures)

    @property
    def frames_written(self) -> int:
        """Frames handed to the files (after close: in them), failed writes excluded."""
        return self.recorder.state().written

    def handle(self, result: FrameResult) -> None:
        if self._error is not None:
            return
        frame = result.frame
        self._set_fps(frame.source.fps)
        image = self.annotator.annotate(result)
        try:
            self.recorder.write(image, self._timestamp_ns(frame))
        except SinkError as e:  # an encoder that does not open at this size
            self._error = str(e)
            log.error("%s; recording stopped", e)
            self.recorder.close()

    def _timestamp_ns(self, frame: Frame) -> int:
        """Capture time for live sources; the position in the file for replays."""
        if frame.source.live:
            return frame.timestamp_ns
        period = round(1e9 / self.recorder.options.fps)
        last = self._last_ns
        if frame.media_ms is None:
            t = 0 if last is None else last + period
        else:
            t = round(frame.media_ms * 1e6) + self._offset_ns
            if last is not None and t <= last:  # the file started again (--loop)
                self._offset_ns += last + period - t
                t = last + period
        self._last_ns = t
        return t

    def close(self) -> None:
        self.recorder.close()


def _check_folder(directory: Path, where: str) -> None:
    """``dir`` is created at bind if missing; its parent must exist."""
    if directory.exists() and not directory.is_dir():
        raise SinkError(f"{where}: is not a folder")
    if not directory.exists() and not directory.parent.is_dir():
        raise SinkError(f"{where}: folder {directory.parent} does not exist")
