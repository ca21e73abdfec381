"""The server under load and abuse: caps, timeouts, backlog (loopback, bounded in time).

Figures (the /healthz latency under a slowloris attack) are printed, not
asserted: run with ``-s`` to see them. What is asserted is behaviour: every
connection gets an answer, the thread count stays bounded, slow and idle
connections are closed.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from camera_app.http import HttpLimits, HttpServer, Request, Response, text

Make = Callable[..., HttpServer]


def status_of(port: int, path: str = "/healthz", timeout_s: float = 20.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return int(s.makefile("rb").readline().split()[1])


def server_threads() -> int:
    return sum(t.name.startswith("http-") for t in threading.enumerate())


# -- the handler cap ------------------------------------------------------------------
def test_over_the_cap_answers_503_with_retry_after(make_server: Make) -> None:
    server = make_server(limits=HttpLimits(max_connections=2))
    release = threading.Event()
    inside = threading.Condition()
    count = [0]

    def slow(request: Request) -> Response:
        with inside:
            count[0] += 1
            inside.notify_all()
        release.wait(10)
        return text(200, "slow")

    server.add_route("GET", "/slow", slow, public=True)
    results: list[int] = []
    holders = [
        threading.Thread(target=lambda: results.append(status_of(server.port, "/slow")))
        for _ in range(2)
    ]
    for t in holders:
        t.start()
    with inside:
        assert inside.wait_for(lambda: count[0] == 2, 10)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = s.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nRetry-After: 1\r\n" in answer and answer.endswith(b"\r\n\r\nserver busy\n")
    release.set()
    for t in holders:
        t.join(10)
    assert results == [200, 200]
    assert status_of(server.port) == 200  # the slots came back


def test_300_simultaneous_connects_all_get_an_answer(make_server: Make) -> None:
    server = make_server()  # the defaults: 32 handlers, 256 waiting, backlog 256
    n = 300
    barrier = threading.Barrier(n, timeout=60)
    statuses: list[int | str] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            barrier.wait()
            got: int | str = status_of(server.port)
        except OSError as e:
            got = type(e).__name__
        with lock:
            statuses.append(got)

    clients = [threading.Thread(target=client) for _ in range(n)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(60)
    counts = Counter(statuses)
    print(f"\n300 simultaneous connects: {dict(counts)}")
    assert len(statuses) == n and set(counts) <= {200, 503}, counts


# -- slow and idle clients --------------------------------------------------------------
def test_slowloris_holds_no_thread_and_healthz_stays_fast(make_server: Make) -> None:
    cap, n_slow, header_timeout_s = 8, 200, 2.0
    server = make_server(limits=HttpLimits(max_connections=cap, header_timeout_s=header_timeout_s))
    baseline = threading.active_count()
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(n_slow)]
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    stop = threading.Event()

    def drip() -> None:  # one byte a second on every slow connection
        for i in range(len(request)):
            for s in slow:
                try:
                    s.send(request[i : i + 1])
                except OSError:
                    pass
            if stop.wait(1.0):
                return

    dripper = threading.Thread(target=drip)
    dripper.start()
    latencies_ms, statuses, peak_total, peak_server = [], [], 0, 0
    end = time.monotonic() + header_timeout_s * 0.9  # while every slow client is held
    while time.monotonic() < end:
        t0 = time.perf_counter()
        statuses.append(status_of(server.port, timeout_s=5))
        latencies_ms.append((time.perf_counter() - t0) * 1e3)
        peak_total = max(peak_total, threading.active_count())
        peak_server = max(peak_server, server_threads())
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    print(
        f"\n{n_slow} slowloris clients: /healthz x{len(statuses)} p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms, max {max(latencies_ms):.2f} ms; threads: process peak "
        f"{peak_total} (baseline {baseline}), server peak {peak_server}"
    )
    assert statuses and set(statuses) == {200}
    assert peak_server <= cap + 1  # the handlers and the accept thread
    assert peak_total <= baseline + cap + 2  # + the test's dripper
    # every slow client is answered 408 and closed after the header timeout
    sel = selectors.DefaultSelector()
    received = {s.fileno(): bytearray() for s in slow}
    for s in slow:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, received[s.fileno()])
    deadline = time.monotonic() + header_timeout_s + 10
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            try:
                chunk = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except OSError:
                chunk = b""
            if chunk:
                key.data.extend(chunk)
            else:
                sel.unregister(key.fileobj)
    stop.set()
    dripper.join(5)
    answers = Counter(bytes(data[:12]) for data in received.values())
    still_open = len(sel.get_map())
    for s in slow:
        s.close()
    assert still_open == 0, f"{still_open} slow clients still open"
    assert set(answers) == {b"HTTP/1.1 408"}, answers


def test_idle_and_silent_connections_are_closed(make_server: Make) -> None:
    server = make_server(limits=HttpLimits(idle_timeout_s=0.3, header_timeout_s=0.5))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    assert (resp.status, resp.getheader("Connection"), resp.read()) == (200, "keep-alive", b"ok\n")
    sock = conn.sock
    assert sock is not None
    t0 = time.monotonic()
    assert sock.recv(1) == b""  # the server closed the idle connection
    idle_s = time.monotonic() - t0
    conn.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
        answer = silent.makefile("rb").read()  # sends nothing at all
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    print(f"\nidle keep-alive connection closed after {idle_s:.2f} s (timeout 0.3 s)")
    assert idle_s >= 0.25  # not before the timeout


def test_beyond_max_waiting_idle_ones_go_first_then_503(make_server: Make) -> None:
    server = make_server(limits=HttpLimits(max_waiting=3, header_timeout_s=10))
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    idle.request("GET", "/healthz")
    assert idle.getresponse().read() == b"ok\n"  # now idle, kept alive
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
    # accepted in order: the idle connection makes room for the third silent one
    silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
    assert idle.sock is not None and idle.sock.recv(1) == b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
        answer = extra.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 503 ") and answer.endswith(b"too many connections\n")
    for s in silent:
        s.close()
    idle.close()


@pytest.mark.parametrize("stall_s", [0.3])
def test_a_client_that_stops_reading_is_dropped(make_server: Make, stall_s: float) -> None:
    done = threading.Event()
    outcome: list[str] = []

    def big(request: Request) -> None:
        request.send_head(200, {"Content-Type": "application/octet-stream"}, timeout_s=stall_s)
        try:
            while True:
                request.write(b"x" * 65536)
        except OSError as e:
            outcome.append(type(e).__name__)
            raise
        finally:
            done.set()

    server = make_server()
    server.add_route("GET", "/big", big, public=True)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert done.wait(10)
    assert outcome == ["TimeoutError"]
    assert status_of(server.port) == 200
    stalled.close()
