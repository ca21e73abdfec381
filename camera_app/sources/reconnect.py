"""Self-healing capture: a live source that fails is closed and reopened.

:class:`ReconnectingSource` wraps a factory of live sources (a camera, an
RTSP/HTTP stream). When the inner source's ``read`` raises ``SourceError``
(no frame within the stall timeout, a device error) or a stream ends, the
wrapper logs one warning, emits a ``source_down`` event, counts a stall or an
error, stops the inner source and reopens a new one with exponential back-off
(``initial_delay_s``, doubling, capped at ``max_delay_s``, with a little
jitter so many cameras do not retry in step). On success it logs
"reconnected after N attempts", emits ``source_up`` and counts a reconnect.

Contract with the pipeline: ``read()`` never raises for a transient failure.
It blocks (in stop-aware waits) until the next frame arrives, and returns
``None`` only once ``stop()`` was called, so the capture thread needs no
special case. Frame ids keep increasing across reconnects.

The systemd watchdog pings only while frames are processed, so a camera
that stays down longer than ``WatchdogSec`` (30 s in the unit) still ends in
a restart of the service: that is intended (a wedged driver may need a fresh
process). The default back-off cap (10 s) leaves room for a few attempts
before that. Files are not wrapped: their end is a real end.

Encoded video for clips follows the connection: every inner source that
publishes packets (picamera2's encoder, a network camera's stream copy)
announces its stream on the run's packet bus when it starts and withdraws it
in ``stop()``, which this wrapper calls on the failed source before it opens
the next. Subscribers therefore see ``withdraw`` (the clip in progress ends)
and, once the camera is back, a new ``announce`` whose first packet is a key
frame; withdrawing names the producer, so a late stop never withdraws the
source that replaced it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from camera_app.errors import SourceError
from camera_app.events import SourceEvent
from camera_app.events import SourceEventKind as EventKind
from camera_app.frames import Frame, SourceInfo
from camera_app.sources.base import BaseSource, Source
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

SourceFactory = Callable[[], Source]
EventCallback = Callable[[SourceEvent], None]


class Backoff:
    """Delays ``initial_s * factor**n`` capped at ``max_s``, with +-``jitter`` (fraction)."""

    def __init__(
        self,
        initial_s: float = 0.5,
        max_s: float = 10.0,
        factor: float = 2.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        if factor < 1 or not 0 <= jitter < 1:
            raise ValueError(f"need factor >= 1 and 0 <= jitter < 1, got {factor} and {jitter}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._base = initial_s

    def reset(self) -> None:
        self._base = self.initial_s

    def next_delay(self) -> float:
        base = self._base
        self._base = min(self.max_s, self._base * self.factor)
        delay = base * (1.0 + self.jitter * self._rng.uniform(-1.0, 1.0))
        # Above the cap, reflect below it: retries at the cap stay spread out.
        return min(delay, 2 * self.max_s - delay)


class ReconnectingSource(BaseSource):
    """A live source that reopens itself; see the module docstring.

    ``factory`` builds a new, unstarted source each call (``lambda:
    open_source(spec, options)``). ``stall_timeout_s`` bounds each inner
    read (None: the timeout the pipeline passes). ``on_event`` and ``stats``
    may also be set later with :meth:`bind` (the pipeline exists only after
    its source). ``clock``, ``sleep`` and ``rng`` are for tests: ``sleep(s)``
    waits up to ``s`` seconds and returns True when the wait was cut short by
    ``stop()``.
    """

    kind = "reconnecting"

    def __init__(
        self,
        factory: SourceFactory,
        *,
        name: str = "source",
        stall_timeout_s: float | None = None,
        initial_delay_s: float = 0.5,
        max_delay_s: float = 10.0,
        jitter: float = 0.1,
        on_event: EventCallback | None = None,
        stats: PipelineStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name)
        if stall_timeout_s is not None and stall_timeout_s <= 0:
            raise ValueError(f"stall_timeout_s must be > 0, got {stall_timeout_s}")
        self._factory = factory
        self.stall_timeout_s = stall_timeout_s
        self.backoff = Backoff(initial_delay_s, max_delay_s, jitter=jitter, rng=rng)
        self.on_event = on_event
        self.stats = stats
        self._clock = clock
        self._sleep = sleep or self._stopping.wait
        self._lock = threading.Lock()
        self._inner: Source | None = None
        self._down_since: float | None = None
        self.attempts = 0
        """Reopen attempts in the current outage."""
        self.reconnects = 0
        self.stalls = 0
        self.errors = 0

    def bind(
        self, on_event: EventCallback | None = None, stats: PipelineStats | None = None
    ) -> None:
        if on_event is not None:
            self.on_event = on_event
        if stats is not None:
            self.stats = stats

    @property
    def up(self) -> bool:
        return self._inner is not None

    # -- Source protocol ------------------------------------------------------
    def start(self) -> SourceInfo:
        """Open the first inner source; a failure here is raised (a wrong URL
        or a missing camera should be reported, not retried forever; a
        service with ``[service] wait`` waits for it: :mod:`camera_app.startup`)."""
        self._stopping.clear()
        inner = self._factory()
        self._info = inner.start()
        with self._lock:
            self._inner = inner
        self._set_state("up")
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        timeout = self.stall_timeout_s or timeout_s
        while not self._stopping.is_set():
            inner = self._inner
            if inner is None:
                self._reopen()
                continue
            t0 = self._clock()
            try:
                frame = inner.read(timeout)
            except SourceError as e:
                if self._stopping.is_set():
                    break
                self._went_down(str(e), stall=self._clock() - t0 >= 0.9 * timeout)
                continue
            if frame is None:
                if self._stopping.is_set():
                    break
                self._went_down(f"{self.name}: the stream ended", stall=False)
                continue
            frame.frame_id = self._take_id()
            return frame
        return None

    def stop(self) -> None:
        """Stop reading and reopening; wakes a ``read`` or a back-off wait at once."""
        super().stop()
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner.stop()

    # -- outage handling ------------------------------------------------------
    def _went_down(self, reason: str, stall: bool) -> None:
        if self._stopping.is_set():
            return
        if stall:
            self.stalls += 1
            if self.stats is not None:
                self.stats.count("stalls")
        else:
            self.errors += 1
        with self._lock:
            inner, self._inner = self._inner, None
        self._down_since = self._clock()
        self.attempts = 0
        self.backoff.reset()
        log.warning("%s; reconnecting", reason)
        self._set_state("down")
        self._emit("source_down", reason)
        if inner is not None:
            try:
                inner.stop()
            except Exception as e:
                log.debug("%s: stopping the failed source raised %r", self.name, e)

    def _reopen(self) -> None:
        """One back-off wait and one attempt; returns when either is done."""
        self._set_state("reconnecting")
        delay = self.backoff.next_delay()
        log.debug("%s: reopening in %.2f s", self.name, delay)
        if self._sleep(delay) or self._stopping.is_set():
            return
        self.attempts += 1
        try:
            candidate = self._factory()
            info = candidate.start()
        except SourceError as e:
            log.debug("%s: attempt %d failed: %s", self.name, self.attempts, e)
            return
        with self._lock:
            if self._stopping.is_set():
                stale: Source | None = candidate
            else:
                stale, self._inner = None, candidate
        if stale is not None:
            stale.stop()
            return
        if self._info is not None and info.size_wh != self._info.size_wh:
            log.warning(
                "%s: frame size changed from %dx%d to %dx%d",
                self.name,
                *self._info.size_wh,
                *info.size_wh,
            )
        self._info = info
        down_s = self._clock() - (self._down_since or self._clock())
        self.reconnects += 1
        if self.stats is not None:
            self.stats.count("reconnects")
        message = f"{self.name}: reconnected after {self.attempts} attempts ({down_s:.1f} s down)"
        log.info("%s", message)
        self._set_state("up")
        self._emit("source_up", message)

    def _set_state(self, state: str) -> None:
        if self.stats is not None:
            self.stats.set_source_state(state)

    def _emit(self, kind: EventKind, message: str) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(SourceEvent(kind, message, time.monotonic_ns()))
        except Exception:
            log.exception("%s: delivering the %s event failed", self.name, kind)
