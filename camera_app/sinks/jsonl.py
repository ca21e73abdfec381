"""Detections log: one JSON object per processed frame (JSON Lines).

Each line is written whole and flushed, so a crash loses at most the line
being written and the file is always valid JSONL up to its last newline.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from camera_app.components import Flag
from camera_app.errors import SinkError, SinkFailedError
from camera_app.events import Event, SourceEvent
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import PipelineStats
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)


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

    path: str | None = opt(None, 'output file, or "-" for stdout')
    enabled: bool = opt(True, "set false to keep the path but write nothing")
    events: bool = opt(False, "also log source_down/source_up events")


CONFIG = JsonlConfig
FLAGS = (
    Flag(
        "--jsonl",
        "path",
        "write detections as JSON Lines (- for stdout)",
        metavar="PATH|-",
        implies={"enabled": True},
    ),
)


def build(config: JsonlConfig, ctx: BuildContext) -> JsonlSink | None:
    if not (config.enabled and config.path):
        return None
    return JsonlSink(config.path, events=config.events)


def describe(config: JsonlConfig) -> str | None:
    return f"jsonl {config.path}" if config.enabled and config.path else None


class JsonlSink(BaseSink):
    name = "jsonl"

    def __init__(self, path: str, events: bool = False) -> None:
        self.path = path
        self.events = events
        self._out: TextIO | None = None
        self._owned = path != "-"
        if self._owned:
            check_output_path(Path(path), "detections log")

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        """Open (truncate) the file only once the run really starts."""
        super().bind(stats, stop)
        self._open()

    def _open(self) -> TextIO:
        if self._out is None:
            if not self._owned:
                self._out = sys.stdout
            else:
                try:
                    self._out = Path(self.path).open("w", encoding="utf-8")
                except OSError as e:
                    raise SinkError(
                        f"detections log {self.path}: cannot be created ({e.strerror})"
                    ) from e
        return self._out

    def _write(self, obj: dict[str, object]) -> None:
        out = self._out or self._open()
        try:
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
            out.flush()
        except OSError as e:
            raise SinkFailedError(f"detections log {self.path}: write failed ({e.strerror})") from e

    def handle(self, result: FrameResult) -> None:
        self._write(result.to_json_line())

    def on_event(self, event: Event) -> None:
        if not isinstance(event, SourceEvent):
            return
        if self.events:
            self._write(
                {"event": event.kind, "message": event.message, "timestamp_ns": event.timestamp_ns}
            )

    def close(self) -> None:
        out, self._out = self._out, None
        if out is None:
            return
        if self._owned:
            out.close()
        else:
            out.flush()
