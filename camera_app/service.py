"""systemd integration: the sd_notify protocol, a progress-gated watchdog, signals.

The notify protocol is spoken directly (no python-systemd dependency): systemd
passes a datagram socket address in ``NOTIFY_SOCKET`` (a path, or ``@name``
for an abstract socket) and reads newline-separated ``KEY=value`` fields from
each datagram. ``WATCHDOG_USEC`` (with ``WATCHDOG_PID``) asks for a
``WATCHDOG=1`` ping at least that often; we ping at half of it.

Ownership: the main thread owns the ``Notifier`` and the ``Watchdog``; the main
loop calls ``Watchdog.tick(time.monotonic())`` at least every 0.25 s. Outside
systemd (no ``NOTIFY_SOCKET``) everything is a no-op.

Signals: the CLI installs its handlers at its first instant
(:mod:`camera_app.signals`); :func:`install_signal_handlers` is for a caller
that has a pipeline already.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from camera_app.signals import StopSignals

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 1.0
DEFAULT_STATUS_INTERVAL_S = 5.0


def parse_notify_address(address: str) -> str | None:
    """``/run/systemd/notify`` -> itself; ``@name`` -> ``"\\0name"``; else None."""
    if address.startswith("/"):
        return address
    if address.startswith("@") and len(address) > 1:
        return "\0" + address[1:]
    return None


class Notifier:
    """Sends sd_notify datagrams to systemd; a no-op when there is no socket.

    Send errors are logged once (then at debug level) and never raised: a
    broken notify socket must not stop the camera.
    """

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address: str | None = None
        if address:
            self._address = parse_notify_address(address)
            if self._address is None:
                log.warning("NOTIFY_SOCKET=%r is not a path or @name; not notifying", address)
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._socket: socket.socket | None = None
        self._failed = False
        self.sent_count = 0

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, unset_environment: bool = False
    ) -> Notifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``.

        ``unset_environment`` removes them from ``os.environ`` (only when
        reading ``os.environ``) so child processes do not inherit them.
        """
        env = os.environ if environ is None else environ
        usec = _parse_positive_int(env.get("WATCHDOG_USEC"), "WATCHDOG_USEC")
        pid = _parse_positive_int(env.get("WATCHDOG_PID"), "WATCHDOG_PID")
        notifier = cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec, watchdog_pid=pid)
        if unset_environment and environ is None:
            for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                os.environ.pop(key, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_interval_s(self) -> float | None:
        """Half of ``WATCHDOG_USEC`` in seconds; None when no watchdog is asked for us."""
        if self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2_000_000

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``KEY=value`` each) as one datagram; True if sent."""
        if self._address is None or not fields:
            return False
        payload = "\n".join(fields).encode("utf-8", errors="replace")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.settimeout(SEND_TIMEOUT_S)
            self._socket.sendto(payload, self._address)
        except OSError as error:
            if not self._failed:
                self._failed = True
                log.warning("cannot notify systemd at %r: %s", self._display_address, error)
            else:
                log.debug("cannot notify systemd: %s", error)
            return False
        self.sent_count += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = ["READY=1"]
        if status is not None:
            fields.append(_status_field(status))
        return self.notify(*fields)

    def status(self, text: str) -> bool:
        return self.notify(_status_field(text))

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more to start or stop (``EXTEND_TIMEOUT_USEC``)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _display_address(self) -> str:
        return (self._address or "").replace("\0", "@", 1)


class Watchdog:
    """Pings ``WATCHDOG=1`` only while ``progress()`` keeps advancing.

    ``progress`` returns a counter (frames processed by inference). ``tick``
    sends a ping when at least ``interval_s`` passed since the last one *and*
    the counter changed since then: a stalled camera or a hung interpreter
    stops the pings and systemd restarts the service. ``status`` (optional)
    is sent as ``STATUS=`` every ``status_interval_s``.
    """

    def __init__(
        self,
        notifier: Notifier,
        progress: Callable[[], int],
        interval_s: float | None = None,
        status: Callable[[], str] | None = None,
        *,
        status_interval_s: float = DEFAULT_STATUS_INTERVAL_S,
    ) -> None:
        if interval_s is not None and interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if status_interval_s <= 0:
            raise ValueError(f"status_interval_s must be > 0, got {status_interval_s}")
        self._notifier = notifier
        self._progress = progress
        self._status = status
        self.interval_s = interval_s if interval_s is not None else notifier.watchdog_interval_s()
        self.status_interval_s = status_interval_s
        self._last_progress = progress()
        self._last_ping_s: float | None = None
        self._last_status_s: float | None = None
        self._last_tick_s: float | None = None
        self._stalled = False
        self._ready = False
        self.ping_count = 0

    @property
    def is_ready(self) -> bool:
        return self._ready

    def first_frame(self) -> bool:
        """Send ``READY=1`` (with the current status) the first time only."""
        if self._ready:
            return False
        self._ready = True
        status = self._status() if self._status is not None else None
        return self._notifier.ready(status)

    def tick(self, now_s: float) -> None:
        """Called by the main loop with a monotonic time in seconds."""
        if self._last_tick_s is not None and now_s < self._last_tick_s:
            raise ValueError(f"tick time went backwards: {now_s} < {self._last_tick_s}")
        self._last_tick_s = now_s
        if not self._notifier.enabled:
            return
        self._tick_watchdog(now_s)
        self._tick_status(now_s)

    def _tick_watchdog(self, now_s: float) -> None:
        if self.interval_s is None:
            return
        if self._last_ping_s is None:
            # The interval counts from the first tick, not from the epoch.
            self._last_ping_s = now_s
        if now_s - self._last_ping_s < self.interval_s:
            return
        progress = self._progress()
        if progress == self._last_progress:
            if not self._stalled:
                self._stalled = True
                log.warning(
                    "no frame processed for %.1f s: withholding the watchdog ping",
                    now_s - self._last_ping_s,
                )
            return
        if self._stalled:
            self._stalled = False
            log.info("frames are flowing again: watchdog pings resume")
        self._last_progress = progress
        self._last_ping_s = now_s
        if self._notifier.watchdog():
            self.ping_count += 1

    def _tick_status(self, now_s: float) -> None:
        if self._status is None:
            return
        if self._last_status_s is not None and now_s - self._last_status_s < self.status_interval_s:
            return
        self._last_status_s = now_s
        self._notifier.status(self._status())


def enable_crash_tracebacks() -> None:
    """The tracebacks of all threads to stderr (the journal) on SIGSEGV,
    SIGABRT (how systemd ends a service whose watchdog expired)..."""
    if not faulthandler.is_enabled():
        faulthandler.enable(file=sys.stderr, all_threads=True)


def install_signal_handlers(
    stop: Callable[[], None],
    *,
    force_exit: Callable[[int], object] = os._exit,
    dump_tracebacks_on_crash: bool = True,
) -> Callable[[], None]:
    """SIGINT/SIGTERM call ``stop()``; a second one calls ``force_exit(128 + signum)``.

    For a caller that has a pipeline already (the CLI uses
    :func:`install_stop_signals` from its first instant instead). Returns a
    function restoring the previous handlers. Main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_signal_handlers must be called from the main thread")
    signals = StopSignals(force_exit=force_exit)
    signals.hand_over(stop)
    signals.install()
    if dump_tracebacks_on_crash:
        enable_crash_tracebacks()
    return signals.restore


def _status_field(text: str) -> str:
    # One line per field: a newline would start a new KEY=value.
    return "STATUS=" + " ".join(text.splitlines())


def _parse_positive_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        log.warning("ignoring %s=%r: not an integer", name, value)
        return None
    if number <= 0:
        log.warning("ignoring %s=%r: not positive", name, value)
        return None
    return number
