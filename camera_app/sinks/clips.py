"""Event clips with pre-roll (``[clips]``, ``--clips DIR``).

One H.264 fragmented MP4 per event, from ``pre_capture_s`` before it
started to ``post_capture_s`` after it ended; events that overlap share a
clip (see :mod:`camera_app.clips.planner`: the events stage names the clip
in the event's records when the event starts). Pre-roll comes from a ring
of encoded packets, never from raw frames:

* when the source publishes encoded video on the run's packet bus (the Pi
  camera's hardware encoder, a network camera's own stream), the clips are
  copies of its packets: no encoding here at all;
* otherwise this sink encodes the clean frames it receives (no overlay: the
  events carry the boxes) all the time, at ``max_width`` and ``crf``, with a
  key frame every ``keyframe_interval_s`` (:mod:`camera_app.clips.encoder`).

Files are written through the recording package (exclusive names, write
failures logged once and retried, torn tails cut) and kept within
``retain_days``, ``max_bytes`` and ``min_free_bytes``. With the run's HTTP
server, ``GET /clips/<name>`` serves them with range requests, so a
``<video>`` element plays and seeks them, even while one is being written.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from camera_app.clips.inbox import PacketInbox
from camera_app.clips.packets import EncodedPacket, PacketBus
from camera_app.clips.planner import ClipPlanner
from camera_app.clips.recorder import ClipRecorder
from camera_app.components import Flag
from camera_app.errors import SinkError
from camera_app.events import Event, ObjectEvent
from camera_app.recording.encoder import EncoderOptions
from camera_app.recording.retention import Retention
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import OutputHealth, PipelineStats
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.clips.encoder import FrameEncoder
    from camera_app.components import BuildContext
    from camera_app.http import HttpServer, Request, Response

log = logging.getLogger(__name__)

CLIPS_PREFIX = "/clips/"
CLIP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(?:-\d+)?(?:-part\d+(?:-\d+)?)?\.mp4$")
"""Names of clip files (the only ones served and touched by retention)."""
CLIP_GLOB = "????-??-??T??-??-??Z*.mp4"
RING_MARGIN_S = 5.0
"""The ring holds this much more than ``pre_capture_s``: an event is raised
after its start (the tracker confirms it), and results reach the sink late."""
PACKET_HOLD_S = 2.0
"""Packet path: with no result for a while (inference stalled), packets older
than this behind the newest go to the clips anyway."""


@dataclass(frozen=True, slots=True)
class ClipsConfig:
    """[clips] a video clip of each object event, with pre-roll."""

    dir: str | None = opt(None, "folder for the clips (created if missing); absent: no clips")
    pre_capture_s: float = opt(5.0, "seconds before an event's start a clip begins", ge=0, le=60)
    post_capture_s: float = opt(5.0, "seconds after an event's end a clip goes on", ge=0, le=300)
    max_clip_s: float = opt(600.0, "a longer clip goes on in <name>-part2.mp4...", ge=10, le=86400)
    retain_days: float = opt(14.0, "delete clips older than this", gt=0, le=36500)
    max_bytes: int = opt(2_000_000_000, "bytes of clips kept at most (oldest deleted first)", ge=1_000_000, le=10**14)  # fmt: skip
    min_free_bytes: int = opt(500_000_000, "delete the oldest clips while the disk has less free", ge=0, le=10**14)  # fmt: skip
    buffer_bytes: int = opt(64_000_000, "memory for the pre-roll buffer of encoded video", ge=1_000_000, le=10**10)  # fmt: skip
    codec: Literal["h264", "libx264"] = opt(
        "h264",
        "without encoded video from the source: h264 (the Pi 4's hardware "
        "encoder when it opens, else libx264) or libx264",
    )
    max_width: int = opt(1280, "without encoded video from the source: frames wider are scaled down", ge=160, le=7680)  # fmt: skip
    crf: int = opt(28, "libx264 quality (0-51, lower is better and bigger)", ge=0, le=51)
    keyframe_interval_s: float = opt(1.0, "key frame interval of the encoder (clips start within half of it of the time asked)", ge=0.2, le=10)  # fmt: skip


CONFIG = ClipsConfig
FLAGS = (
    Flag(
        "--clips", "dir", "save a clip of each object event (with pre-roll) in DIR", metavar="DIR"
    ),
)


def uses_tracks(config: ClipsConfig) -> bool:
    return bool(config.dir)


def describe(config: ClipsConfig) -> str | None:
    if not config.dir:
        return None
    return (
        f"clips {config.dir} ({config.pre_capture_s:g} s before, {config.post_capture_s:g} s "
        f"after each event; {config.max_bytes / 1e9:g} GB, {config.retain_days:g} days)"
    )


def make_planner(config: ClipsConfig) -> ClipPlanner:
    if config.dir is None:
        raise SinkError("clips: no folder ([clips] dir or --clips DIR)")
    return ClipPlanner(
        config.dir,
        pre_capture_s=config.pre_capture_s,
        post_capture_s=config.post_capture_s,
        max_clip_s=config.max_clip_s,
    )


def build(config: ClipsConfig, ctx: BuildContext) -> ClipsSink | None:
    """The sink, and the run's planner the events stage names clips with."""
    if not config.dir:
        return None
    planner = make_planner(config)
    ctx.clips = planner
    tracker = ctx.section("tracker")
    lost_after_s = float(getattr(tracker, "max_disappeared_s", 2.0))
    return ClipsSink(config, planner, ctx.packets, ctx.http, lost_after_s=lost_after_s)


def clip_url(path: str | None) -> str | None:
    """``/clips/<name>`` for a clip path an event carries (None for none)."""
    if not path:
        return None
    name = os.path.basename(path)
    return CLIPS_PREFIX + quote(name) if CLIP_RE.match(name) else None


class ClipsSink(BaseSink):
    name = "clips"
    lossless = True

    def __init__(
        self,
        config: ClipsConfig,
        planner: ClipPlanner,
        bus: PacketBus | None = None,
        http: HttpServer | None = None,
        *,
        lost_after_s: float = 2.0,
        every_frame: bool | None = None,
    ) -> None:
        if config.dir is None:
            raise SinkError("clips: no folder ([clips] dir or --clips DIR)")
        self.config = config
        self.dir = Path(config.dir)
        self.planner = planner
        self.bus = bus
        self.every_frame = every_frame
        retention = Retention(
            config.retain_days, config.max_bytes, config.min_free_bytes or None, CLIP_GLOB
        )
        self.recorder = ClipRecorder(
            planner,
            ring_s=config.pre_capture_s + RING_MARGIN_S,
            ring_bytes=config.buffer_bytes,
            # a clip is fed this late, so that it can end post_capture_s after
            # the object was last seen though the tracker says so later
            lag_s=max(0.0, lost_after_s - config.post_capture_s) + 0.5,
            max_clip_s=config.max_clip_s,
            retention=retention,
        )
        self.encoder_options = EncoderOptions(
            codec=config.codec, crf=config.crf, keyframe_interval_s=config.keyframe_interval_s
        )
        self.encoder: FrameEncoder | None = None
        self.inbox: PacketInbox | None = None
        self._unsubscribe: Callable[[], None] | None = None
        if bus is not None:
            # Subscribed before the source starts: the Pi camera starts its
            # hardware encoder only when someone wants its packets. bind()
            # drops the subscription when no source publishes.
            self.inbox = PacketInbox()
            self._unsubscribe = bus.subscribe(self.inbox.put)
        self._inbox_dropped = 0
        self._withdrawn = False
        self._closed = False
        if http is not None:
            http.add_route("GET", CLIPS_PREFIX + "*", self._serve)

    @property
    def copying(self) -> bool:
        """True when clips copy the source's packets (no encoding here)."""
        return self.inbox is not None

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        stats.register_output(self.name, self.output_health)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkError(f"clips {self.dir}: cannot create the folder ({e.strerror})") from e
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise SinkError(f"clips {self.dir}: the folder is not writable")
        if self.every_frame is None:
            self.every_frame = stats.source.get("pacing") == "every-frame"
        if stats.source.get("fps"):
            self.recorder.fps = float(stats.source["fps"])
        self.recorder.retention.apply(self.dir, keep=self.planner.reserved_paths())
        if self.inbox is not None and self.bus is not None and self.bus.stream is None:
            # nobody publishes encoded video (a file, a USB camera): encode frames
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe, self.inbox = None, None
        if self.inbox is not None and self.bus is not None:
            log.info("clips: copying the packets of %s into %s", self.bus.producer, self.dir)
        else:
            log.info("clips: encoding frames for clips into %s", self.dir)

    def output_health(self) -> OutputHealth:
        s = self.recorder.state()
        return OutputHealth(s.ok, s.reason or "", s.written, s.failures)

    # -- pipeline side -------------------------------------------------------
    def handle(self, result: FrameResult) -> None:
        frame = result.frame
        if self.inbox is not None:
            self._take(frame.timestamp_ns)
            return
        ts = frame.timestamp_ns
        if self.every_frame and frame.media_ms is not None:
            ts = round(frame.media_ms * 1e6)  # the analysis clock: media time
        for packet in self._encode(frame.image, ts, frame.channel_order):
            self.recorder.add(packet)

    def _encode(self, image: Any, ts: int, order: str) -> list[EncodedPacket]:
        from camera_app.clips.encoder import FrameEncoder

        h, w = image.shape[:2]
        if self.encoder is not None and self.encoder.source_wh != (w, h):
            pending = self.encoder.flush()  # a new size: a new stream
            for packet in pending:
                self.recorder.add(packet)
            self.encoder = None
        if self.encoder is None:
            options = self.encoder_options
            if 0 < self.recorder.fps <= 240:  # the rate-control hint; capture times rule
                options = replace(options, fps=self.recorder.fps)
            try:
                self.encoder = FrameEncoder(
                    (int(w), int(h)), max_width=self.config.max_width, options=options
                )
            except ValueError as e:
                raise SinkError(f"clips: {e}") from e
        return self.encoder.encode(image, ts, order)

    def _take(self, upto_ns: int | None) -> None:
        assert self.inbox is not None
        withdrawn = self.bus is not None and self.bus.stream is None
        if withdrawn:
            upto_ns = None  # the producer stopped: what it sent is all there is
        packets = self.inbox.take(upto_ns)
        if self.inbox.dropped != self._inbox_dropped:
            self._inbox_dropped = self.inbox.dropped
            self.recorder.discontinuity()
        for packet in packets:
            self.recorder.add(packet)
        if withdrawn and not self._withdrawn:
            # a camera restart: open clips end here, and go on in a new part
            # from the first key frame after it comes back
            self.recorder.discontinuity()
        self._withdrawn = withdrawn

    def on_event(self, event: Event) -> None:
        if isinstance(event, ObjectEvent) and event.clip is not None:
            self.recorder.event(event.type, event.clip)

    def idle(self) -> None:
        if self.inbox is None:
            return
        newest = self.inbox.newest_ns
        withdrawn = self.bus is not None and self.bus.stream is None
        if newest is not None or withdrawn != self._withdrawn:
            self._take(None if newest is None else newest - round(PACKET_HOLD_S * 1e9))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.inbox is not None:
            self._take(None)
        elif self.encoder is not None:
            for packet in self.encoder.flush():
                self.recorder.add(packet)
        self.recorder.close()
        s = self.recorder.state()
        log.info(
            "clips: %d file(s) in %s%s",
            len(self.recorder.finished_files), self.dir,
            f", {s.dropped} frames dropped ({s.reason or 'write failures'})" if s.dropped else "",
        )  # fmt: skip

    # -- HTTP ----------------------------------------------------------------
    def _serve(self, request: Request) -> Response:
        from camera_app.http import serve_named

        return serve_named(request, self.dir, CLIP_RE.match, "video/mp4")
