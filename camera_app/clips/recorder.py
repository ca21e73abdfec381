"""Clips from a stream of encoded packets, as the planner lays them out.

:class:`ClipRecorder` runs on the clips sink's thread. Every packet (from
the source's bus, or from the sink's own encoder) goes into the pre-roll
ring and, ``lag_s`` later, to every open clip. A clip opens when its first
event reaches the sink: it starts with the ring's key frame nearest to
``pre_capture_s`` before the event's start (never after the event's start)
and takes every packet until ``post_capture_s`` after its last event ended
(the window comes from the :class:`~camera_app.clips.planner.ClipPlanner`).
The lag lets a clip end on time when ``post_capture_s`` is shorter than the
time the tracker takes to call an object gone.

A clip longer than ``max_clip_s`` goes on in ``<name>-part2.mp4`` (cut at
a key frame), and so does one whose stream changed (camera restart, new
size) or whose file failed. Failures follow the recording package: logged
once, counted (:class:`~camera_app.recording.health.WriteHealth`), the torn
tail cut, retried with back-off from the ring's next key frame, so the
seconds lost while failing are recovered when the ring still holds them.
Retention runs whenever a file is created; open and planned clips are kept.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av.error

from camera_app.clips.nal import is_annex_b, parameter_sets
from camera_app.clips.packets import EncodedPacket, StreamInfo
from camera_app.clips.planner import ClipPlanner, ClipWindow
from camera_app.clips.ring import PacketRing
from camera_app.clips.writer import ClipFile
from camera_app.recording.files import MAX_CANDIDATES, OutputFile
from camera_app.recording.health import WriteHealth, WriteState
from camera_app.recording.retention import Retention

log = logging.getLogger(__name__)

WRITE_ERRORS = (OSError, av.error.FFmpegError)
MAX_FINISHED = 64


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


@dataclass(slots=True)
class _Clip:
    path: str
    """The planned name (what the events carry); parts get ``-partN``."""
    window: ClipWindow
    parts: int = 0
    """Files opened so far; the next is part ``parts + 1``."""
    file: ClipFile | None = None
    last_ns: int | None = None
    """The last packet written (or lost to a failure): a resume goes on after it."""
    part_start_ns: int = 0
    next_check_s: float = 0.0
    written_parts: tuple[str, ...] = ()
    missed: int = 0
    """Packets fed while a file failed, not yet recovered from the ring."""
    counted: int = 0
    """Packets of the current file counted as written (the durable ones)."""

    def until_ns(self) -> int | None:
        return None if self.window.until_s is None else _ns(self.window.until_s)


class ClipRecorder:
    """Packets in, clip files out (see the module doc). Not thread-safe:
    one thread (the sink's) calls everything."""

    def __init__(
        self,
        planner: ClipPlanner,
        *,
        ring_s: float,
        ring_bytes: int,
        lag_s: float = 0.0,
        max_clip_s: float = 600.0,
        retention: Retention | None = None,
        fps: float = 30.0,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.planner = planner
        self.ring = PacketRing(ring_s + lag_s, ring_bytes)
        self.lag_ns = _ns(lag_s)
        self.max_clip_ns = _ns(max_clip_s)
        self.retention = retention or Retention()
        self.fps = fps
        self.check_interval_s = check_interval_s
        self._clock = clock
        self.health = WriteHealth("clips", "frames", clock=clock)
        self._pending: deque[EncodedPacket] = deque()
        self._stream: StreamInfo | None = None
        self._parameter_sets: bytes | None = None
        self._fed_ns: int | None = None
        self._clips: dict[str, _Clip] = {}
        self._finished: dict[str, _Clip] = {}
        self.finished_files: list[str] = []
        """Every clip file finished, in order (parts included)."""

    # -- state ---------------------------------------------------------------
    @property
    def open_clips(self) -> list[str]:
        return list(self._clips)

    def state(self) -> WriteState:
        return self.health.state()

    # -- packets -------------------------------------------------------------
    def add(self, packet: EncodedPacket) -> None:
        """The newest packet of the stream (in capture order)."""
        # identity: each (re)announce is a new StreamInfo, even when equal in value
        if self._stream is not None and packet.stream is not self._stream:
            self._stream_changed(packet.stream)
        self._stream = packet.stream
        if packet.keyframe and not packet.stream.extradata and is_annex_b(packet.data):
            found = parameter_sets(packet.stream.codec, packet.data)
            if found is not None:
                self._parameter_sets = found
        self.ring.append(packet)
        self._pending.append(packet)
        due = packet.pts_ns - self.lag_ns
        while self._pending and self._pending[0].pts_ns <= due:
            self._feed(self._pending.popleft())

    def _stream_changed(self, stream: StreamInfo) -> None:
        log.info("clips: the stream changed (%s %dx%d); open clips go on in a new part", stream.codec, *stream.size_wh)  # fmt: skip
        self.discontinuity()

    def discontinuity(self) -> None:
        """Packets were lost or the stream changed (camera restart, new size):
        what comes next cannot follow what was written, so every open file
        ends and goes on in a new part from the next key frame."""
        while self._pending:
            self._feed(self._pending.popleft())
        for clip in self._clips.values():
            self._finish_file(clip)
        self.ring.clear()
        self._parameter_sets = None

    def _feed(self, packet: EncodedPacket) -> None:
        self._fed_ns = packet.pts_ns
        for clip in list(self._clips.values()):
            self._feed_clip(clip, packet)

    def _feed_clip(self, clip: _Clip, packet: EncodedPacket) -> None:
        until = clip.until_ns()
        if until is not None and packet.pts_ns > until:
            self._end(clip)
            return
        if clip.file is None:
            if clip.last_ns is not None:
                clip.missed += 1  # recovered from the ring if it still holds it
            self._start(clip, packet.pts_ns)
            return
        if packet.keyframe and packet.pts_ns - clip.part_start_ns >= self.max_clip_ns:
            log.info("clips: %s reached max_clip_s; it goes on in part %d", clip.path, clip.parts + 1)  # fmt: skip
            self._finish_file(clip)
            self._start(clip, packet.pts_ns)
            return
        self._write(clip, [packet])

    # -- events --------------------------------------------------------------
    def event(self, kind: str, path: str) -> None:
        """An event of the clip at ``path`` reached the sink (``new``, ``update``, ``end``)."""
        clip = self._clips.get(path)
        window = self.planner.window(path)
        if clip is not None:
            if window is not None:
                clip.window = window
            until = clip.until_ns()
            if until is not None and self._fed_ns is not None and self._fed_ns > until:
                self._end(clip)
            return
        if kind != "new" or window is None:
            return
        clip = _Clip(path, window)
        done = self._finished.pop(path, None)
        if done is not None:  # ended already, and joined since: go on in a new part
            clip.parts, clip.last_ns = done.parts, done.last_ns
        self._clips[path] = clip
        if self._fed_ns is not None:
            self._start(clip, self._fed_ns)

    # -- files ---------------------------------------------------------------
    def _start(self, clip: _Clip, upto_ns: int) -> None:
        """Open the clip's next file from the ring, up to ``upto_ns``, if it can start."""
        keys = [k for k in self.ring.keyframes_ns() if k <= upto_ns]
        if clip.last_ns is not None:  # a resume: on after what was written
            keys = [k for k in keys if k > clip.last_ns]
            if not keys:
                return
            first = keys[0]
        else:
            target = _ns(clip.window.start_s)
            if target > upto_ns or not keys:
                return  # not yet: the ring reaches its start later
            latest = _ns(clip.window.first_event_s)
            allowed = [k for k in keys if k <= latest] or keys[:1]
            first = min(allowed, key=lambda k: (abs(k - target), k))
        if not self.health.retry_due() or not self._open_file(clip):
            return
        clip.part_start_ns = first
        replay = list(self.ring.since(first, upto_ns))
        if clip.missed:
            self.health.dropped(max(0, clip.missed - len(replay)))
            clip.missed = 0
        self._write(clip, replay)

    def _open_file(self, clip: _Clip) -> bool:
        assert self._stream is not None
        part = clip.parts + 1
        out = self.planner.take_file(clip.path) if part == 1 else None
        if out is None:
            self._retain()
            try:
                out = OutputFile.create(_candidates(Path(clip.path), part))
            except OSError as e:
                self.health.failed(e, clip.path)
                return False
            if part == 1 and str(out.path) != clip.path:
                log.warning("clips: %s could not be created when planned; the clip is %s", clip.path, out.path)  # fmt: skip
        else:
            self._retain()
        try:
            clip.file = ClipFile(out, self._stream, self.fps, self._parameter_sets)
        except WRITE_ERRORS as e:
            out.remove()
            self.health.failed(e, str(out.path))
            return False
        self.health.opened(str(out.path))
        clip.parts = part
        clip.written_parts = (*clip.written_parts, str(out.path))
        clip.next_check_s = self._clock() + self.check_interval_s
        return True

    def _write(self, clip: _Clip, packets: Iterable[EncodedPacket]) -> None:
        f = clip.file
        assert f is not None
        until = clip.until_ns()
        failing = 0
        try:
            now = self._clock()
            if now >= clip.next_check_s:  # deleted or replaced under us?
                clip.next_check_s = now + self.check_interval_s
                f.out.check()
            for p in packets:
                if until is not None and p.pts_ns > until:
                    break
                clip.last_ns = p.pts_ns
                failing = 1
                f.write(p)
                failing = 0
                if f.packets_durable > clip.counted:  # a fragment reached the file
                    self.health.wrote(f.packets_durable - clip.counted)
                    clip.counted = f.packets_durable
                    self.health.recovered()
        except WRITE_ERRORS as e:
            self._fail(clip, e, failing)

    def _fail(self, clip: _Clip, error: BaseException, failing: int = 0) -> None:
        """A write failed: keep the file's complete fragments, and go on later
        (:meth:`_start`) from the first packet not in it, out of the ring."""
        f, clip.file = clip.file, None
        if f is None:
            return
        resume = f.resume_ns()
        if resume is not None:
            clip.last_ns = resume - 1
        durable = f.packets_durable
        f.abort()
        if durable > clip.counted:
            self.health.wrote(durable - clip.counted)
        clip.counted = 0
        clip.missed += f.packets - durable + failing  # to recover, or count as dropped
        if durable == 0:  # the file held nothing and is gone: its name is free
            clip.parts -= 1
            clip.written_parts = clip.written_parts[:-1]
        self.health.failed(error, str(f.path))

    def _finish_file(self, clip: _Clip) -> None:
        f = clip.file
        if f is None:
            return
        if f.packets == 0:
            clip.file = None
            f.abort()  # nothing in it: removed
            return
        try:
            f.finish()
        except WRITE_ERRORS as e:
            self._fail(clip, e)
            return
        clip.file = None
        self.health.wrote(f.packets - clip.counted)
        clip.counted = 0
        self.finished_files.append(str(f.path))
        log.info("clips: %s (%.1f s, %d frames)", f.path, f.duration_s, f.packets)

    def _end(self, clip: _Clip) -> None:
        self._finish_file(clip)
        if clip.missed:
            self.health.dropped(clip.missed)
            clip.missed = 0
        self._clips.pop(clip.path, None)
        self._finished[clip.path] = clip
        while len(self._finished) > MAX_FINISHED:
            del self._finished[next(iter(self._finished))]
        self.planner.release(clip.path)

    def _retain(self) -> None:
        keep = [Path(p) for c in self._clips.values() for p in c.written_parts]
        keep += self.planner.reserved_paths()
        self.retention.apply(self.planner.directory, keep=keep)

    def close(self) -> None:
        """Write what is pending and finish every open clip (the run stops)."""
        while self._pending:
            self._feed(self._pending.popleft())
        for clip in list(self._clips.values()):
            self._end(clip)
        self.planner.discard_unused()


def _candidates(path: Path, part: int) -> Iterator[Path]:
    """``name.mp4`` (a first part) or ``name-partN.mp4``, then ``-1``, ``-2``..."""
    stem = path.stem if part == 1 else f"{path.stem}-part{part}"
    yield path.with_name(f"{stem}{path.suffix}")
    for i in range(1, MAX_CANDIDATES):
        yield path.with_name(f"{stem}-{i}{path.suffix}")
