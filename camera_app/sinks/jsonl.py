"""Detections log: one JSON object per processed frame (JSON Lines).

Written through :class:`~camera_app.recording.linelog.LineLog`, so the log
is an output an appliance can trust:

* **Appends, never truncates.** A restart (``Restart=on-failure``) adds to
  the previous run's records. ``camera-app run`` starts each run's part with
  a marker record, written with the run's first line::

      {"event": "start", "utc": "2026-11-29T14:02:05.123456+00:00", "pid": 812,
       "version": "0.4.0", "source": "picamera2", "model": "/var/lib/.../ssd.tflite"}

  (frame records have ``frame_id``; event records ``event``). Nothing is
  written before the run passed its start-up checks; a run that fails them
  leaves the file as it was.
* **Whole lines only.** Each line is one ``write``; a failed write is cut
  back to the last complete line, and a torn last line left by a crash is
  removed when the file is opened.
* **Bounded.** ``rotate_bytes``/``rotate_daily`` move the file aside to
  ``name-<start time>.jsonl`` (never over an existing file) and start a new
  one at ``path``; ``max_bytes``/``retain_days`` delete the oldest moved-aside
  files.
* **Failures do not stop the run.** A full disk or a deleted file is logged
  once, lines are dropped and counted, writing is retried with back-off;
  stats, ``/healthz`` and the status line show the ``jsonl`` output failed.

``-`` writes to standard output (no marker, no rotation). When the reader
goes away (``camera-app run --jsonl - | head -3``) the sink asks the run to
stop, which then ends normally (exit 0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camera_app import __version__
from camera_app.components import Flag
from camera_app.errors import ConfigError, SinkError
from camera_app.events import Event, SourceEvent
from camera_app.recording.linelog import LineLog
from camera_app.recording.retention import Retention
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import OutputHealth, PipelineStats
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

EXPECTED_PATH = 'a file path, or "-" for stdout'


def check_output_path(path: Path, what: str) -> None:
    """Fail before the run starts when an output file cannot be created."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise SinkError(f"{what} {path}: is a directory; expected a file path")
    if not parent.is_dir():
        raise SinkError(f"{what} {path}: folder {parent} does not exist")


@dataclass(frozen=True, slots=True)
class JsonlConfig:
    """[sinks.jsonl] detections as JSON Lines."""

    path: str | None = opt(None, 'output file (appended to), or "-" for stdout')
    enabled: bool = opt(True, "set false to keep the path but write nothing")
    events: bool = opt(False, "also log source_down/source_up events")
    rotate_bytes: int = opt(
        100_000_000, "move the file aside when it reaches this size; 0: never", ge=0, le=10**13
    )
    rotate_daily: bool = opt(False, "also move the file aside when the UTC day changes")
    max_bytes: int = opt(
        1_000_000_000,
        "moved-aside files kept at most, oldest deleted first; 0: no limit",
        ge=0,
        le=10**13,
    )
    retain_days: float | None = opt(
        None, "delete moved-aside files older than this", gt=0, le=36500
    )

    def validate(self) -> None:
        if self.path is not None and not self.path.strip():
            raise ConfigError(f'path: expected {EXPECTED_PATH}, got ""')
        if 0 < self.rotate_bytes < 1024:
            raise ConfigError(
                f"rotate_bytes: expected 0 (never) or at least 1024, got {self.rotate_bytes}"
            )


def _path_flag(text: str) -> Mapping[str, Any]:
    if not text.strip():
        raise ValueError(EXPECTED_PATH)
    return {"path": text}


CONFIG = JsonlConfig
FLAGS = (
    Flag(
        "--jsonl",
        None,
        "write detections as JSON Lines, appended (- for stdout)",
        metavar="PATH|-",
        apply=_path_flag,
        implies={"enabled": True},
    ),
)


def build(config: JsonlConfig, ctx: BuildContext) -> JsonlSink | None:
    if not (config.enabled and config.path):
        return None
    return JsonlSink.from_config(config)


def describe(config: JsonlConfig) -> str | None:
    return f"jsonl {config.path}" if config.enabled and config.path else None


class JsonlSink(BaseSink):
    """See the module docstring. ``start_marker``: begin this run's part of
    the file with ``{"event": "start", ...}`` (``camera-app run`` does)."""

    name = "jsonl"
    wants_gated = False  # it logs inferred frames only

    def __init__(
        self,
        path: str,
        events: bool = False,
        *,
        rotate_bytes: int | None = None,
        rotate_daily: bool = False,
        retention: Retention | None = None,
        start_marker: bool = False,
    ) -> None:
        if not path.strip():
            raise SinkError(f"detections log: empty path; expected {EXPECTED_PATH}")
        self.path = path
        self.events = events
        self._owned = path != "-"
        if self._owned:
            check_output_path(Path(path), "detections log")
        p = Path(path)
        retention = retention or Retention()
        self.log = LineLog(
            path,
            rotate_bytes=rotate_bytes,
            rotate_daily=rotate_daily,
            retention=Retention(
                retention.retain_days,
                retention.max_bytes,
                retention.min_free_bytes,
                pattern=f"{p.stem}-*{p.suffix}",
            ),
        )
        self.log.validate()
        self._marker_due = start_marker and self._owned
        self._stop_requested = False

    @classmethod
    def from_config(cls, config: JsonlConfig) -> JsonlSink:
        assert config.path is not None
        return cls(
            config.path,
            events=config.events,
            rotate_bytes=config.rotate_bytes or None,
            rotate_daily=config.rotate_daily,
            retention=Retention(retain_days=config.retain_days, max_bytes=config.max_bytes or None),
            start_marker=True,
        )

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        """Open the file (append) once the run passed its checks; nothing is
        written until the first record, so a run that fails to start leaves
        the file as it was."""
        super().bind(stats, stop)
        self.log.open()
        if self._owned:
            stats.register_output(self.name, self.output_health)

    def output_health(self) -> OutputHealth:
        s = self.log.state()
        detail = "" if s.ok else f"{s.reason} ({s.path}; {s.dropped} lines dropped)"
        return OutputHealth(s.ok, detail, s.written, s.failures)

    @property
    def lines_written(self) -> int:
        return self.log.state().written

    def _write(self, obj: Mapping[str, Any]) -> None:
        if self._marker_due:
            self._marker_due = False
            self.log.write_marker("start", **self._run_fields())
        if not self.log.write(obj) and self.log.reader_gone and not self._stop_requested:
            self._stop_requested = True
            log.info("detections log: standard output was closed by its reader; stopping")
            if self.request_stop is not None:
                self.request_stop()

    def _run_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"version": __version__}
        stats = self.stats
        if stats is not None:
            if stats.source.get("name"):
                fields["source"] = stats.source["name"]
            if stats.model.get("path"):
                fields["model"] = stats.model["path"]
        return fields

    def handle(self, result: FrameResult) -> None:
        if not result.inferred:  # a frame the motion gate or detect rate skipped
            return
        self._write(result.to_json_line())

    def on_event(self, event: Event) -> None:
        if not isinstance(event, SourceEvent):
            return
        if self.events:
            self._write(
                {"event": event.kind, "message": event.message, "timestamp_ns": event.timestamp_ns}
            )

    def close(self) -> None:
        self.log.close()
