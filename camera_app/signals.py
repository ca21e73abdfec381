"""SIGINT and SIGTERM from the first instant of the command line.

systemd stops a unit at any moment, including while it imports numpy, OpenCV
and the TFLite runtime or loads the model. ``camera_app.cli.main`` installs
:class:`StopSignals` first thing, so this module imports only what the
handlers need (the window before them is the interpreter's own start-up).

During start-up the first signal raises :class:`Interrupted` in the main
thread and the start-up is abandoned: an import, a model load or a blocking
connect is left as soon as it returns to Python, and the code that built
things closes them on the way out, as it would for Ctrl-C. Once a pipeline
exists it is handed the stop (:meth:`StopSignals.hand_over`) and the first
signal asks it to finish. A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging


class Interrupted(BaseException):
    """SIGINT or SIGTERM during start-up: abandon it (raised by :class:`StopSignals`).

    A ``BaseException`` like ``KeyboardInterrupt``, which it replaces: code
    that cleans up on any exception (``except BaseException: close(); raise``)
    cleans up for it too, and ``except Exception`` does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """0 for SIGTERM (a stop on request), 128 + signum otherwise (130 for
        SIGINT: the shell's convention for an interrupted command)."""
        return 0 if self.signum == signal.SIGTERM else 128 + self.signum


_Handler = Callable[[int, FrameType | None], object] | int


class StopSignals:
    """SIGINT and SIGTERM handling for the whole life of a command.

    Until :meth:`hand_over` the first signal raises :class:`Interrupted` in
    the main thread: an import, a model load or a blocking connect is left as
    soon as it returns to Python. After it, the first signal calls the
    ``stop`` handed over (keep that to setting an event) and returns. A
    second signal, at any time, calls ``force_exit(128 + signum)`` (exit
    without cleanup). Handlers are installed by :meth:`install` (main thread
    only) and put back by :meth:`restore`.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, *, force_exit: Callable[[int], object] = os._exit) -> None:
        self.received: list[int] = []
        self.startup_signum: int | None = None
        """The first signal, when it came before :meth:`hand_over`."""
        self._stop: Callable[[], None] | None = None
        self._force_exit = force_exit
        self._previous: dict[int, _Handler] = {}

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    @property
    def handed_over(self) -> bool:
        return self._stop is not None

    @property
    def signal_name(self) -> str | None:
        """The first signal received ("SIGTERM"), None before any."""
        return signal.Signals(self.received[0]).name if self.received else None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers must be installed from the main thread")
        if self.installed:
            return
        # SIGTERM last: once it is caught (SigCgt in /proc/PID/status), both are.
        for signum in self.SIGNALS:
            old = signal.getsignal(signum)
            # None: a handler installed from C, which Python cannot reinstall.
            self._previous[signum] = signal.SIG_DFL if old is None else old
            signal.signal(signum, self._handle)  # may run a pending signal's handler

    def restore(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def check(self) -> None:
        """A checkpoint between start-up steps: raise :class:`Interrupted`
        again if a signal came during start-up and the exception was lost on
        the way (C code that turns it into another or clears it: an extension
        module's init, the compiler)."""
        if self.startup_signum is not None and self._stop is None:
            raise Interrupted(self.startup_signum)

    def hand_over(self, stop: Callable[[], None]) -> None:
        """From now on the first signal calls ``stop`` instead of raising; a
        signal already received (and not acted on) calls it at once."""
        self._stop = stop
        if self.received:
            stop()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(signum)
        if len(self.received) > 1:
            _log().warning("received %s again: exiting without cleanup", name)
            self._force_exit(128 + signum)
            return
        stop = self._stop
        if stop is None:
            self.startup_signum = signum
            raise Interrupted(signum)
        _log().info("received %s: stopping (send it again to exit at once)", name)
        stop()


_process_signals: StopSignals | None = None


def install_stop_signals(signals: StopSignals | None = None) -> StopSignals:
    """The process's :class:`StopSignals` (``signals`` or new ones), installed
    now if they are not yet; not installed, and inert, off the main thread.

    A signal pending from before (SIGINT while the interpreter started) is
    raised by the installation itself, KeyboardInterrupt or
    :class:`Interrupted`: call it inside the ``try`` that handles them."""
    global _process_signals
    if _process_signals is not None and _process_signals.installed:
        return _process_signals
    signals = signals or StopSignals()
    if threading.current_thread() is threading.main_thread():
        _process_signals = signals
        signals.install()
    return signals


def installed_stop_signals() -> StopSignals | None:
    """The handlers :func:`install_stop_signals` put in place, if still there."""
    if _process_signals is not None and _process_signals.installed:
        return _process_signals
    return None


def checkpoint() -> None:
    """:meth:`StopSignals.check` on the handlers installed, if any."""
    signals = installed_stop_signals()
    if signals is not None:
        signals.check()


def _log() -> logging.Logger:
    """This module's logger; logging is imported once a signal needs it, not
    before the handlers are installed."""
    import logging

    return logging.getLogger(__name__)
