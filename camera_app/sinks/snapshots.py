"""Snapshots: the best picture of each object event, as JPEG (``[snapshots]``).

The events stage decides the path (``<dir>/<event id>.jpg``) when the event
starts and hands the best frame along with ``new``, with an ``update`` that
has ``snapshot`` in ``changes`` and with ``end``; this sink writes it each
time the picture changed. Every file is written to a temporary name and
renamed, so a path an event references is always a whole JPEG. With
``boxes`` the object's box and label are drawn; with ``clean`` as well, an
undrawn copy goes beside it (``<id>-clean.jpg``); ``crop`` keeps only the
object and a margin around it.

Retention (after each write and at start): files older than
``retain_days`` go, then the oldest until at most ``max_count`` files and
``max_bytes`` remain; the snapshots of open events are never deleted. Only
files named like snapshots (``<seconds>-<tracker id>[...].jpg``) are
touched. A failed write is logged once, retried with back-off, and never
stops the run.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from camera_app.components import Flag
from camera_app.errors import ConfigError, SinkError
from camera_app.events import Event, ObjectEvent, SnapshotSource
from camera_app.recording.health import WriteHealth
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import OutputHealth, PipelineStats
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)

SNAPSHOT_RE = re.compile(r"^\d+\.\d{3}-\d+(?:-\d+)?(?:-clean)?\.jpg$")
"""Names this sink writes (and the only ones retention deletes)."""
TEMP_RE = re.compile(r"^\.\d+\.\d{3}-\d+(?:-\d+)?(?:-clean)?\.jpg\.\d+\.tmp$")
CROP_MARGIN = 0.25
"""A crop keeps this fraction of the box's size around it on each side."""
MAX_PENDING = 100


@dataclass(frozen=True, slots=True)
class SnapshotsConfig:
    """[snapshots] the best picture of each event."""

    dir: str | None = opt(None, "folder for <event id>.jpg (created if missing); absent: none")
    boxes: bool = opt(True, "draw the object's box and label")
    clean: bool = opt(False, "also save an undrawn copy (<id>-clean.jpg); with boxes = false, only that")  # fmt: skip
    crop: bool = opt(False, "keep only the object and a margin around it")
    quality: int = opt(85, "JPEG quality", ge=1, le=100)
    max_count: int = opt(1000, "snapshot files kept at most", ge=1, le=10_000_000)
    max_bytes: int = opt(500_000_000, "bytes of snapshots kept at most", ge=100_000, le=10**13)
    retain_days: float = opt(14.0, "delete snapshots older than this", gt=0, le=36500)

    def validate(self) -> None:
        if not self.boxes and not self.clean:
            raise ConfigError("clean: expected true when boxes = false (nothing would be saved)")


CONFIG = SnapshotsConfig
FLAGS = (
    Flag("--snapshots", "dir", "save the best picture of each object event in DIR", metavar="DIR"),
)


def uses_tracks(config: SnapshotsConfig) -> bool:
    return bool(config.dir)


def build(config: SnapshotsConfig, ctx: BuildContext) -> SnapshotsSink | None:
    return SnapshotsSink(config) if config.dir else None


def describe(config: SnapshotsConfig) -> str | None:
    if not config.dir:
        return None
    return (
        f"snapshots {config.dir} (at most {config.max_count} files, "
        f"{config.max_bytes / 1e6:g} MB, {config.retain_days:g} days)"
    )


def clean_path(path: str) -> str:
    return path[: -len(".jpg")] + "-clean.jpg" if path.endswith(".jpg") else path + "-clean.jpg"


def render(
    source: SnapshotSource, label: str, draw: bool, crop: bool, channel_order: str = "BGR"
) -> np.ndarray:
    """The snapshot picture (BGR): the frame, the box drawn or not, cropped or not."""
    image = source.frame.image
    img = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if channel_order == "RGB" else image.copy()
    h, w = img.shape[:2]
    x1, y1, x2, y2 = source.xyxy
    if draw:
        thick = max(2, round(min(w, h) / 300))
        p1, p2 = (round(x1), round(y1)), (round(x2), round(y2))
        cv2.rectangle(img, p1, p2, (0, 255, 0), thick)
        text = f"{label} {source.score:.0%}"
        scale = max(0.5, min(w, h) / 900)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(th + base, p1[1])
        cv2.rectangle(img, (p1[0], ty - th - base), (p1[0] + tw + 4, ty), (0, 255, 0), cv2.FILLED)
        cv2.putText(img, text, (p1[0] + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    if crop:
        mx, my = (x2 - x1) * CROP_MARGIN + 8, (y2 - y1) * CROP_MARGIN + 8
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if cx2 > cx1 and cy2 > cy1:
            img = img[cy1:cy2, cx1:cx2]
    return img


def write_atomic(path: str, data: bytes) -> None:
    """``data`` at ``path`` through a temporary file and a rename: readers see
    the old file or the whole new one, never a part."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(28, "No space left on device")
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class SnapshotsSink(BaseSink):
    name = "snapshots"
    lossless = True
    wants_gated = False  # events only (idle() flushes)

    def __init__(self, config: SnapshotsConfig, *, health: WriteHealth | None = None) -> None:
        if config.dir is None:
            raise SinkError("snapshots: no folder ([snapshots] dir or --snapshots DIR)")
        self.config = config
        self.dir = Path(config.dir)
        self.health = health or WriteHealth("snapshots", "snapshots")
        self._written: dict[str, tuple[int, tuple[float, float, float, float]]] = {}
        """Open events: the frame id and box of the snapshot last written."""
        self._open_paths: dict[str, str] = {}
        """Open events' snapshot paths (never deleted by retention)."""
        self._pending: dict[str, ObjectEvent] = {}
        self._files: dict[str, tuple[float, int]] = {}
        """Our files in ``dir``: name -> (mtime, size)."""
        self._collisions_reported = False

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        stats.register_output(self.name, self.output_health)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkError(f"snapshots {self.dir}: cannot create the folder ({e.strerror})") from e
        self._scan()
        self._retain()

    def output_health(self) -> OutputHealth:
        s = self.health.state()
        return OutputHealth(s.ok, s.reason or "", s.written, s.failures)

    def _scan(self) -> None:
        self._files.clear()
        try:
            entries = list(os.scandir(self.dir))
        except OSError as e:
            log.warning("snapshots %s: cannot list the folder (%s)", self.dir, e.strerror)
            return
        for entry in entries:
            try:
                if SNAPSHOT_RE.match(entry.name) and entry.is_file():
                    st = entry.stat()
                    self._files[entry.name] = (st.st_mtime, st.st_size)
                elif TEMP_RE.match(entry.name):
                    os.unlink(entry.path)  # left by a crash mid-write
            except OSError:
                continue

    def on_event(self, event: Event) -> None:
        if not isinstance(event, ObjectEvent) or event.snapshot is None:
            return
        if event.type != "end":
            self._open_paths[event.id] = event.snapshot
        if event.snapshot_source is not None:
            self._pending[event.id] = event
            if len(self._pending) > MAX_PENDING:
                dropped = next(iter(self._pending))
                del self._pending[dropped]
                self.health.dropped()
        self._flush()
        if event.type == "end":
            self._open_paths.pop(event.id, None)
            if event.id not in self._pending:
                self._written.pop(event.id, None)

    def handle(self, result: FrameResult) -> None:
        if self._pending:
            self._flush()

    def idle(self) -> None:
        if self._pending:
            self._flush()

    def _flush(self, force: bool = False) -> None:
        if not self._pending or not (force or self.health.retry_due()):
            return
        for event_id in list(self._pending):
            event = self._pending[event_id]
            try:
                self._write(event)
            except OSError as e:
                self.health.failed(e, event.snapshot)
                return
            except cv2.error as e:
                log.error("snapshots: cannot encode %s (%s)", event.snapshot, e)
            del self._pending[event_id]
            if event.type == "end":
                self._written.pop(event_id, None)

    def _write(self, event: ObjectEvent) -> None:
        source, path = event.snapshot_source, event.snapshot
        assert source is not None and path is not None
        key = (source.frame.frame_id, source.xyxy)
        if self._written.get(event.id) == key:
            return  # this picture is already on disk
        if event.id not in self._written and os.path.exists(path):
            if not self._collisions_reported:
                log.warning("snapshots: %s exists from before; not overwriting it", path)
                self._collisions_reported = True
            self._written[event.id] = key
            return
        c = self.config
        order = source.frame.channel_order
        targets = []
        if c.boxes:
            targets.append((path, render(source, event.label, True, c.crop, order)))
        if c.clean:
            clean = path if not c.boxes else clean_path(path)
            targets.append((clean, render(source, event.label, False, c.crop, order)))
        for target, image in targets:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, c.quality])
            if not ok:
                raise cv2.error(f"JPEG encoding failed for {target}")
            data = buf.tobytes()
            write_atomic(target, data)
            self._files[os.path.basename(target)] = (time.time(), len(data))
        self._written[event.id] = key
        self.health.wrote()
        self.health.recovered()
        self._retain()

    def _retain(self) -> None:
        c = self.config
        keep: set[str] = set()
        for p in self._open_paths.values():
            keep.update((os.path.basename(p), os.path.basename(clean_path(p))))
        cutoff = time.time() - c.retain_days * 86400
        by_age = sorted(self._files.items(), key=lambda kv: (kv[1][0], kv[0]))
        count = len(by_age)
        total = sum(size for _, (_, size) in by_age)
        for name, (mtime, size) in by_age:
            if count <= c.max_count and total <= c.max_bytes and mtime >= cutoff:
                break
            if name in keep:
                continue
            try:
                (self.dir / name).unlink(missing_ok=True)
            except OSError as e:
                log.warning("snapshots: cannot delete %s (%s)", name, e.strerror)
                continue
            del self._files[name]
            count -= 1
            total -= size

    def close(self) -> None:
        if self._pending:
            self._flush(force=True)
            if self._pending:
                log.error("snapshots: %d snapshots could not be written", len(self._pending))
                self.health.dropped(len(self._pending))
                self._pending.clear()
