"""The accept loop: a connection waiting for its request costs a socket, not a thread.

One thread accepts, reads request heads from every waiting connection
(non-blocking, under ``header_timeout_s`` from the first byte), keeps idle
keep-alive connections (``idle_timeout_s``) and closes connections politely
(it drains what the peer still sends, at most ``LINGER_S``, so a rejection
is read rather than lost to a reset). Only a complete head is handed to the
server's ``dispatch``; when that finds no free handler the loop answers
``503`` itself. A slow client (slowloris) therefore holds a socket for at
most ``header_timeout_s`` and never a thread, and more than ``max_waiting``
of them are turned away at once.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from camera_app.http.messages import MAX_HEAD_BYTES, canned

log = logging.getLogger(__name__)

LINGER_S = 2.0
"""After a response that closes, drain the peer's input this long at most."""
READING, IDLE, LINGER = "reading", "idle", "linger"
_ACCEPT_BATCH = 64
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


@dataclass(eq=False, slots=True)
class Conn:
    sock: socket.socket
    address: tuple[object, ...]
    buf: bytearray
    state: str = READING
    deadline: float = 0.0


def _head_end(buf: bytearray) -> tuple[int, int] | None:
    """(end of the head, start of what follows) once the blank line arrived."""
    found = [(i, i + len(m)) for m in _HEAD_ENDS if (i := buf.find(m)) >= 0]
    return min(found) if found else None


class ConnectionLoop:
    def __init__(
        self,
        listener: socket.socket,
        dispatch: Callable[[Conn, bytes], bool],
        *,
        max_waiting: int,
        header_timeout_s: float,
        idle_timeout_s: float,
        name: str = "http",
    ) -> None:
        self._listener = listener
        self._dispatch = dispatch
        self.max_waiting = max_waiting
        self.header_timeout_s, self.idle_timeout_s = header_timeout_s, idle_timeout_s
        self.name = name
        self.counts: Counter[str] = Counter()
        """accepted, rejected_busy, rejected_full, header_timeout, idle_closed (io thread)."""
        listener.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._waiting: dict[int, Conn] = {}  # READING or IDLE, by fd
        self._lingering: dict[int, Conn] = {}
        self._next_deadline = float("inf")
        self._lock = threading.Lock()
        self._handback: deque[tuple[Conn, bool]] = deque()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-accept")
            self._thread.daemon = True
            self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        with self._lock:
            self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("%s: the accept thread did not stop in %.1f s", self.name, timeout_s)
                return
        else:
            self._close_all()

    # -- from handler threads -------------------------------------------------
    def give_back(self, conn: Conn, keep_alive: bool) -> None:
        """A handler is done with ``conn``: wait for its next request
        (``keep_alive``), or close it politely."""
        with self._lock:
            queued = not self._stopping
            if queued:
                self._handback.append((conn, keep_alive))
        if queued:
            self._wake()
        else:
            conn.sock.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full: a wake-up is pending anyway
            pass

    # -- the loop ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = max(0.0, min(self._next_deadline - time.monotonic(), 5.0))
                for key, _ in self._sel.select(timeout):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._take_handback()
                    else:
                        self._event(key.data)
                if time.monotonic() >= self._next_deadline:
                    self._sweep()
        except Exception:  # a bug in the loop itself: stop serving, loudly
            log.exception("%s: the accept loop failed", self.name)
        finally:
            self._close_all()

    def _event(self, conn: Conn) -> None:
        """One connection's input; a failure costs that connection only."""
        try:
            self._readable(conn)
        except Exception:
            log.exception("%s: connection from %s failed", self.name, conn.address[0])
            self._drop(conn)

    def _accept(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE and friends: keep serving the others
                log.warning("%s: accept failed (%s)", self.name, e)
                return
            self.counts["accepted"] += 1
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            conn = Conn(sock, address, bytearray())
            if len(self._waiting) >= self.max_waiting and not self._evict_idle():
                self.counts["rejected_full"] += 1
                self._reject(conn, canned(503, "too many connections", {"Retry-After": "1"}))
                continue
            self._wait(conn, READING, self.header_timeout_s)

    def _evict_idle(self) -> bool:
        idle = [c for c in self._waiting.values() if c.state == IDLE]
        if not idle:
            return False
        self._drop(min(idle, key=lambda c: c.deadline))
        self.counts["idle_closed"] += 1
        return True

    def _wait(self, conn: Conn, state: str, timeout_s: float) -> None:
        conn.state, conn.deadline = state, time.monotonic() + timeout_s
        self._next_deadline = min(self._next_deadline, conn.deadline)
        fd = conn.sock.fileno()
        if fd not in self._waiting and fd not in self._lingering:
            self._sel.register(conn.sock, selectors.EVENT_READ, conn)
        (self._lingering if state == LINGER else self._waiting)[fd] = conn

    def _forget(self, conn: Conn) -> None:
        fd = conn.sock.fileno()
        if self._waiting.pop(fd, None) is not None or self._lingering.pop(fd, None) is not None:
            self._sel.unregister(conn.sock)

    def _drop(self, conn: Conn) -> None:
        self._forget(conn)
        conn.sock.close()

    def _readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if conn.state == LINGER:
            return  # drained and discarded
        conn.buf += data
        if conn.state == IDLE:
            while conn.buf[:2] == b"\r\n":  # blank lines between requests are allowed
                del conn.buf[:2]
            if conn.buf:
                conn.state, conn.deadline = READING, time.monotonic() + self.header_timeout_s
                self._next_deadline = min(self._next_deadline, conn.deadline)
        self._check_head(conn)

    def _check_head(self, conn: Conn) -> None:
        end = _head_end(conn.buf)
        if end is None:
            if len(conn.buf) > MAX_HEAD_BYTES:
                self._forget(conn)
                self._reject(conn, canned(431, "request head too large"))
            return
        head, rest = bytes(conn.buf[: end[0]]), conn.buf[end[1] :]
        if len(head) > MAX_HEAD_BYTES:
            self._forget(conn)
            self._reject(conn, canned(431, "request head too large"))
            return
        self._forget(conn)
        conn.buf = bytearray(rest)
        if not self._dispatch(conn, head):
            self.counts["rejected_busy"] += 1
            self._reject(conn, canned(503, "server busy", {"Retry-After": "1"}))

    def _reject(self, conn: Conn, response: bytes) -> None:
        """Answer without a handler thread and close politely."""
        try:
            conn.sock.setblocking(False)
            conn.sock.send(response)  # small: fits an empty socket buffer
        except OSError:
            pass
        self._linger(conn)

    def _linger(self, conn: Conn) -> None:
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            conn.sock.close()
            return
        if len(self._lingering) >= self.max_waiting:
            conn.sock.close()
            return
        self._wait(conn, LINGER, LINGER_S)

    def _take_handback(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            with self._lock:
                if not self._handback:
                    return
                conn, keep_alive = self._handback.popleft()
            if not keep_alive:
                self._linger(conn)
            elif len(self._waiting) >= self.max_waiting:
                self.counts["idle_closed"] += 1
                self._linger(conn)
            else:
                conn.sock.setblocking(False)
                if conn.buf:  # pipelined: the next request already arrived (in part)
                    self._wait(conn, READING, self.header_timeout_s)
                    self._check_head(conn)
                else:
                    self._wait(conn, IDLE, self.idle_timeout_s)

    def _sweep(self) -> None:
        now = time.monotonic()
        nearest = float("inf")
        for conn in [*self._waiting.values(), *self._lingering.values()]:
            if conn.deadline > now:
                nearest = min(nearest, conn.deadline)
            elif conn.state == READING:
                self.counts["header_timeout"] += 1
                self._forget(conn)
                self._reject(conn, canned(408, "request timeout"))
                nearest = min(nearest, conn.deadline)
            else:
                self.counts["idle_closed" if conn.state == IDLE else "lingered"] += 1
                self._drop(conn)
        self._next_deadline = nearest

    def _close_all(self) -> None:
        for conn in [*self._waiting.values(), *self._lingering.values()]:
            self._drop(conn)
        with self._lock:
            self._stopping = True
            handback = list(self._handback)
            self._handback.clear()
        for conn, _ in handback:
            conn.sock.close()
        self._sel.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
