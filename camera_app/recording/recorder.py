"""Continuous recording that survives kills, full disks and deleted files.

:class:`SegmentedRecorder` writes frames (or already-encoded packets) to one
file or to a folder of segments of ``segment_s`` named by their start time
in UTC (``2026-11-29T14-02-05Z.mp4``); each segment starts with a key frame
and is closed cleanly (trailer, ``fdatasync``) when the next one starts.
Files are created exclusively: nothing is ever overwritten. Nothing is
created before :meth:`SegmentedRecorder.open`, which is where start-up
problems (no such folder, permission, bad options) raise ``SinkError``.

After that it never raises into the pipeline: a failed write (full disk,
read-only file system, I/O error, the file deleted or replaced under it,
checked every ``check_interval_s``) is logged once, the torn tail is cut
back to the last complete fragment, frames are dropped and counted while
failed, and a new file is tried after 1 s, 2 s, ... up to 30 s (applying the
retention policy first, which may free the space). :meth:`state` is what
stats and ``/healthz`` show.

A segment killed before its first fragment reached the disk is an empty
file; :meth:`SegmentedRecorder.open` removes such files from its folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from camera_app.errors import SinkError
from camera_app.recording.encoder import EncoderOptions, VideoEncoder
from camera_app.recording.files import FileGoneError, Naming, OutputFile
from camera_app.recording.health import WriteHealth, WriteState, describe
from camera_app.recording.mux import Muxer, PacketWriter
from camera_app.recording.retention import Retention

log = logging.getLogger(__name__)

WRITE_ERRORS = (OSError, av.error.FFmpegError)


class SegmentedRecorder:
    """Frames (or packets) in, files out; see the module docstring."""

    def __init__(
        self,
        naming: Naming,
        *,
        options: EncoderOptions | None = None,
        segment_s: float | None = None,
        retention: Retention | None = None,
        what: str = "recording",
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.naming = naming
        self.options = options or EncoderOptions()
        self.segment_s = segment_s
        self.retention = retention or Retention(pattern=naming.glob())
        self.what = what
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.health = WriteHealth(what, "frames", clock=clock)
        self._out: OutputFile | None = None
        self._writer: Muxer | None = None
        self._file_frames = 0
        self._checked_frames = 0  # frames in the file when its identity was last checked
        self._segment_start_ns = 0
        self._next_check = 0.0
        self._opened = False
        self._closed = False
        self._announced = False

    @classmethod
    def to_file(cls, path: str | Path, **kwargs: Any) -> SegmentedRecorder:
        """One file at ``path`` (or beside it, named by start time, if it exists)."""
        return cls(Naming.fixed_path(path), **kwargs)

    @classmethod
    def in_directory(
        cls, directory: str | Path, suffix: str = ".mp4", prefix: str = "", **kwargs: Any
    ) -> SegmentedRecorder:
        """Files named by start time in ``directory`` (segments with ``segment_s``)."""
        return cls(Naming.timed(directory, suffix, prefix), **kwargs)

    # -- lifecycle -------------------------------------------------------

    def validate(self) -> None:
        """Check the settings and the folder without creating anything (``SinkError``)."""
        where = self._where()
        try:
            self.options.validate(self.naming.suffix)
            self.retention.validate()
        except ValueError as e:
            raise SinkError(f"{where}: {e}") from e
        if self.segment_s is not None and not 0.5 <= self.segment_s <= 86400:
            raise SinkError(f"{where}: segment_s must be 0.5..86400 s, got {self.segment_s}")
        directory = self.naming.directory
        if not directory.is_dir():
            raise SinkError(f"{where}: folder {directory} does not exist")
        if self.naming.fixed and (directory / (self.naming.stem + self.naming.suffix)).is_dir():
            raise SinkError(f"{where}: is a directory; expected a file path")

    def open(self) -> None:
        """Validate and create the first file; ``SinkError`` if it cannot start."""
        if self._opened:
            return
        self.validate()
        if not self.naming.fixed:
            _remove_empty(self.naming.directory, self.naming.glob())
        self.retention.apply(self.naming.directory)
        try:
            self._create_file()
        except OSError as e:
            raise SinkError(f"{self._where()}: cannot be created ({describe(e)})") from e
        self._opened = True
        segments = f" (segments of {self.segment_s:g} s)" if self.segment_s else ""
        log.info("%s to %s%s", self.what, self._out.path if self._out else "?", segments)

    def set_nominal_fps(self, fps: float) -> None:
        """The source's frame rate, once known: used by the files started from now on
        (AVI's time unit, the encoders' rate control); capture times still rule."""
        if 0 < fps <= 240:
            self.options = replace(self.options, fps=fps)

    def _where(self) -> str:
        n = self.naming
        return f"{self.what} {n.directory / (n.stem + n.suffix) if n.fixed else n.directory}"

    def close(self) -> None:
        """Finish the current file (trailer, sync). Never raises; see :meth:`state`."""
        if self._closed:
            return
        self._closed = True
        if not self._opened:
            return  # never started (a failed start-up check): nothing to say
        if self._writer is not None:
            self._finish_file()
        elif self._out is not None:
            self._out.remove()  # created, never written: nothing to keep
            self._out = None
        s = self.health.state()
        log.info(
            "%s: %d frames written in %d file(s)%s",
            self.what, s.written, s.files, f", {s.dropped} dropped ({s.reason or 'write failures'})" if s.dropped else "",
        )  # fmt: skip

    def __enter__(self) -> SegmentedRecorder:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state(self) -> WriteState:
        return self.health.state()

    @property
    def path(self) -> Path | None:
        """The file being written (None while failed)."""
        return self._out.path if self._out else None

    # -- writing -----------------------------------------------------------

    def write(self, image: np.ndarray, timestamp_ns: int) -> bool:
        """Encode one BGR frame; False when it was dropped (failed, or closed)."""
        return self._accept(timestamp_ns, True, image, None)

    def write_packet(
        self, data: bytes, timestamp_ns: int, keyframe: bool, size_wh: tuple[int, int]
    ) -> bool:
        """Mux one already-encoded H.264 access unit (stream copy).

        A file starts only at a key frame, so after a failure or at a segment
        boundary packets are dropped until the next key frame."""
        return self._accept(timestamp_ns, keyframe, None, (data, keyframe, size_wh))

    def _accept(
        self,
        timestamp_ns: int,
        can_start: bool,
        image: np.ndarray | None,
        packet: tuple[bytes, bool, tuple[int, int]] | None,
    ) -> bool:
        if self._closed or not self._opened:
            return False
        if self._writer is not None and can_start and self._segment_due(timestamp_ns):
            self._finish_file()
        if self._writer is None and not can_start:
            self.health.dropped()
            return False
        if self._out is None and not self._retry():
            self.health.dropped()
            return False
        out = self._require_out()
        try:
            if self._writer is None:
                self._writer = self._new_writer(out, image, packet)
                self._segment_start_ns = timestamp_ns
                self._file_frames = self._checked_frames = 0
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self.check_interval_s
                out.check()
                self._checked_frames = self._file_frames
            writer = self._writer
            durable = writer.packets_durable
            if isinstance(writer, VideoEncoder) and image is not None:
                writer.write(image, timestamp_ns)
            elif isinstance(writer, PacketWriter) and packet is not None:
                writer.write(packet[0], timestamp_ns, packet[1])
            else:
                raise TypeError(f"{self.what}: frames and packets cannot go to one file")
            self._file_frames += 1
            self.health.wrote()
            if writer.packets_durable > durable:
                self.health.recovered()
        except WRITE_ERRORS as e:
            self._fail(e)
            self.health.dropped()
            return False
        return True

    def _new_writer(
        self,
        out: OutputFile,
        image: np.ndarray | None,
        packet: tuple[bytes, bool, tuple[int, int]] | None,
    ) -> Muxer:
        if image is None:
            assert packet is not None
            return PacketWriter(out, self.naming.suffix, size_wh=packet[2], fps=self.options.fps)
        h, w = image.shape[:2]
        try:
            encoder = VideoEncoder(out, self.naming.suffix, (int(w), int(h)), self.options)
        except ValueError as e:  # e.g. codec h264_v4l2m2m asked for, and it does not open
            raise SinkError(f"{self._where()}: {e}") from e
        if not self._announced:
            self._announced = True
            detail = f" {self.options.preset}" if encoder.codec == "libx264" else ""
            log.info("%s: %s%s, %dx%d", self.what, encoder.codec, detail, *encoder.size_wh)
        return encoder

    def _require_out(self) -> OutputFile:
        assert self._out is not None
        return self._out

    def _segment_due(self, timestamp_ns: int) -> bool:
        return (
            self.segment_s is not None
            and timestamp_ns - self._segment_start_ns >= self.segment_s * 1e9
        )

    # -- files ---------------------------------------------------------------

    def _create_file(self) -> None:
        self._out = OutputFile.create(self.naming.candidates(self._wall_clock()))
        self._next_check = self._clock() + self.check_interval_s
        self.health.opened(str(self._out.path))
        log.debug("%s: new file %s", self.what, self._out.path)

    def _retry(self) -> bool:
        """Start a new file when the back-off allows (after a failure or rotation)."""
        if not self.health.retry_due():
            return False
        self.retention.apply(self.naming.directory)
        try:
            self._create_file()
        except OSError as e:
            self.health.failed(e, str(self.naming.directory))
            return False
        return True

    def _finish_file(self) -> None:
        """Close the current file cleanly; then the next frame starts a new one."""
        writer, out = self._writer, self._out
        self._writer = self._out = None
        if writer is None:
            return
        try:
            writer.finish()
        except WRITE_ERRORS as e:
            self._writer, self._out = writer, out
            self._fail(e)
            return

    def _fail(self, error: BaseException) -> None:
        writer, out = self._writer, self._out
        self._writer = self._out = None
        if writer is not None:
            writer.abort()
            # A deleted file may have been gone since the last check passed.
            durable = writer.packets_durable
            if isinstance(error, FileGoneError):
                durable = min(durable, self._checked_frames)
            self.health.lost(max(0, self._file_frames - durable))
        elif out is not None:
            out.remove()
        self.health.failed(error, str(out.path) if out else None)


def _remove_empty(directory: Path, pattern: str) -> None:
    """Empty files in our folder: segments a kill cut before their first
    fragment (they hold nothing and no player opens them)."""
    for path in directory.glob(pattern):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
                path.unlink()
                log.debug("removed the empty recording %s (left by a crash)", path)
        except OSError:
            continue
