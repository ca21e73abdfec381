"""Xlib error handling for the preview window.

Xlib's default answer to an X error or a lost X server is ``exit(1)`` of the
whole process (recordings left unfinished). :func:`watch_x_connection` makes
X errors non-fatal and turns a lost connection into a callback; the thread
that lost it is then parked for good, since returning into Xlib would exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class _XErrorEvent(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("resourceid", ctypes.c_ulong),
        ("serial", ctypes.c_ulong),
        ("error_code", ctypes.c_ubyte),
        ("request_code", ctypes.c_ubyte),
        ("minor_code", ctypes.c_ubyte),
    )


_ErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))
_IOErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_handlers: tuple[Any, ...] | None = None  # the installed C callbacks, kept alive
_lock = threading.Lock()
_on_lost_by_thread: dict[int, Callable[[], None]] = {}


def _on_x_error(display: int | None, event: Any) -> int:
    e = event.contents
    log.debug("X error %d (request %d) ignored", e.error_code, e.request_code)
    return 0  # Xlib's default prints and exits the process


def _on_x_io_error(display: int | None) -> int:
    on_lost = _on_lost_by_thread.get(threading.get_ident())
    if on_lost is None:
        return 0  # not a preview window's connection: Xlib exits as it always did
    try:
        on_lost()
    except Exception:
        log.exception("preview window: stopping after the X connection was lost failed")
    threading.Event().wait()  # returning would let Xlib exit the process
    return 0


def watch_x_connection(on_lost: Callable[[], None]) -> None:
    """Make X errors non-fatal, and call ``on_lost`` (on this thread) if this
    thread's X connection breaks. Call before Tk opens the display: Tk passes
    the errors it does not expect on to the handler it found there."""
    global _handlers
    with _lock:
        _on_lost_by_thread[threading.get_ident()] = on_lost
        if _handlers is not None:
            return
        name = ctypes.util.find_library("X11")
        if name is None:
            log.debug("libX11 not found: X errors keep Xlib's default (exit)")
            _handlers = ()
            return
        xlib = ctypes.CDLL(name)
        xlib.XSetErrorHandler.argtypes = [_ErrorHandler]
        xlib.XSetIOErrorHandler.argtypes = [_IOErrorHandler]
        xlib.XSetErrorHandler.restype = xlib.XSetIOErrorHandler.restype = ctypes.c_void_p
        _handlers = (_ErrorHandler(_on_x_error), _IOErrorHandler(_on_x_io_error))
        xlib.XSetErrorHandler(_handlers[0])
        xlib.XSetIOErrorHandler(_handlers[1])


def unwatch_x_connection() -> None:
    with _lock:
        _on_lost_by_thread.pop(threading.get_ident(), None)
