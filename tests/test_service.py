"""sd_notify over a real AF_UNIX datagram socket, the watchdog, signal handlers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from camera_app.service import Notifier, Watchdog, install_signal_handlers, parse_notify_address


@dataclass
class NotifySocket:
    """The systemd end: a bound datagram socket and the NOTIFY_SOCKET value."""

    env_value: str
    sock: socket.socket

    def received(self) -> list[str]:
        """Every datagram queued so far (AF_UNIX delivery is synchronous)."""
        messages = []
        while True:
            try:
                messages.append(self.sock.recv(4096, socket.MSG_DONTWAIT).decode())
            except BlockingIOError:
                return messages


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest) -> Iterator[NotifySocket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        # A short directory: unix socket paths are limited to 107 bytes.
        with tempfile.TemporaryDirectory(prefix="notify-") as directory:
            path = str(Path(directory) / "n.sock")
            sock.bind(path)
            yield NotifySocket(path, sock)
            sock.close()
    else:
        name = f"camera-app-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        yield NotifySocket("@" + name, sock)
        sock.close()


@dataclass
class Counter:
    frames: int = 0
    calls: list[int] = field(default_factory=list)

    def __call__(self) -> int:
        self.calls.append(self.frames)
        return self.frames


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@abstract-name", "\0abstract-name"),
        ("@", None),
        ("vsock:2:1234", None),
        ("relative/path", None),
    ],
)
def test_parse_notify_address(address: str, expected: str | None) -> None:
    assert parse_notify_address(address) == expected


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda n: n.ready(), "READY=1"),
        (lambda n: n.ready("loading model"), "READY=1\nSTATUS=loading model"),
        (lambda n: n.status("12.5 fps, 3 dropped"), "STATUS=12.5 fps, 3 dropped"),
        (lambda n: n.status("two\nlines"), "STATUS=two lines"),
        (lambda n: n.stopping(), "STOPPING=1"),
        (lambda n: n.watchdog(), "WATCHDOG=1"),
        (lambda n: n.extend_timeout(2.5), "EXTEND_TIMEOUT_USEC=2500000"),
    ],
)
def test_notifier_sends_one_datagram(
    notify_socket: NotifySocket, send: Callable[[Notifier], bool], expected: str
) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": notify_socket.env_value}) as notifier:
        assert notifier.enabled
        assert send(notifier) is True
    assert notify_socket.received() == [expected]


def test_notifier_without_socket_is_a_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s() is None
    assert [notifier.ready(), notifier.status("x"), notifier.watchdog(), notifier.stopping()] == [
        False,
        False,
        False,
        False,
    ]
    assert notifier.sent_count == 0


def test_notifier_ignores_unsupported_address(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:9"})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "not a path or @name" in caplog.text


def test_send_errors_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with tempfile.TemporaryDirectory() as directory:
        notifier = Notifier(str(Path(directory) / "nobody-listens"))
        with caplog.at_level(logging.DEBUG, logger="camera_app.service"):
            results = [notifier.watchdog() for _ in range(3)]
    assert results == [False, False, False]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()
    assert notifier.sent_count == 0


@pytest.mark.parametrize(
    ("environ", "expected_s"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "1000"}, 0.0005),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_from_environment(
    environ: dict[str, str], expected_s: float | None
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "@unused", **environ})
    assert notifier.watchdog_interval_s() == expected_s


def test_from_env_can_unset_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "@x")
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    notifier = Notifier.from_env(unset_environment=True)
    assert notifier.enabled
    assert notifier.watchdog_interval_s() == 2.0
    assert "NOTIFY_SOCKET" not in os.environ
    assert "WATCHDOG_USEC" not in os.environ


# (now_s, frames processed so far, ping expected at this tick); interval 15 s.
WATCHDOG_SCRIPT = [
    (100.0, 0, False),  # first tick: the interval starts here
    (110.0, 40, False),  # progress, but the interval has not passed
    (115.0, 60, True),
    (120.0, 80, False),
    (130.0, 80, True),  # 80 > 60: still advancing at the ping
    (145.0, 80, False),  # stalled: no ping
    (150.0, 80, False),  # still stalled
    (150.25, 81, True),  # progress again: ping on the next tick
    (160.0, 81, False),
    (165.25, 81, False),  # no frame since the last ping: stalled again
]


def test_watchdog_pings_only_while_progress_advances(
    notify_socket: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    counter = Counter()
    notifier = Notifier(notify_socket.env_value)
    watchdog = Watchdog(notifier, counter, interval_s=15.0)
    got = []
    for now_s, frames, _ in WATCHDOG_SCRIPT:
        counter.frames = frames
        watchdog.tick(now_s)
        got.append(notify_socket.received() == ["WATCHDOG=1"])
    assert got == [expected for *_, expected in WATCHDOG_SCRIPT]
    assert watchdog.ping_count == 3
    assert "withholding the watchdog ping" in caplog.text


def test_watchdog_interval_comes_from_watchdog_usec(notify_socket: NotifySocket) -> None:
    counter = Counter()
    notifier = Notifier.from_env(
        {"NOTIFY_SOCKET": notify_socket.env_value, "WATCHDOG_USEC": "2000000"}
    )
    watchdog = Watchdog(notifier, counter)
    assert watchdog.interval_s == 1.0
    watchdog.tick(0.0)
    counter.frames = 1
    watchdog.tick(0.5)
    assert notify_socket.received() == []
    watchdog.tick(1.0)
    assert notify_socket.received() == ["WATCHDOG=1"]


def test_no_watchdog_requested_means_no_pings_but_status(notify_socket: NotifySocket) -> None:
    counter = Counter()
    watchdog = Watchdog(
        Notifier(notify_socket.env_value), counter, status=lambda: "ok", status_interval_s=5.0
    )
    assert watchdog.interval_s is None
    for now_s in (0.0, 60.0, 120.0):
        counter.frames += 10
        watchdog.tick(now_s)
    assert notify_socket.received() == ["STATUS=ok"] * 3


def test_status_is_sent_every_status_interval(notify_socket: NotifySocket) -> None:
    texts = iter(f"frame {i}" for i in range(100))
    watchdog = Watchdog(
        Notifier(notify_socket.env_value),
        Counter(),
        status=lambda: next(texts),
        status_interval_s=5.0,
    )
    for now_s in (0.0, 0.25, 4.75, 5.0, 9.0, 10.0):
        watchdog.tick(now_s)
    assert notify_socket.received() == ["STATUS=frame 0", "STATUS=frame 1", "STATUS=frame 2"]


def test_first_frame_sends_ready_once(notify_socket: NotifySocket) -> None:
    watchdog = Watchdog(Notifier(notify_socket.env_value), Counter(), status=lambda: "running")
    assert not watchdog.is_ready
    assert watchdog.first_frame() is True
    assert watchdog.first_frame() is False
    assert watchdog.is_ready
    assert notify_socket.received() == ["READY=1\nSTATUS=running"]


def test_watchdog_without_socket_does_nothing() -> None:
    counter = Counter()
    watchdog = Watchdog(Notifier(None), counter, interval_s=1.0, status=lambda: "x")
    for now_s in (0.0, 1.0, 2.0):
        counter.frames += 1
        watchdog.tick(now_s)
    assert watchdog.first_frame() is False
    assert watchdog.ping_count == 0
    assert counter.calls == [0]  # only the baseline read at construction


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_s": 0.0}, "interval_s must be > 0"),
        ({"interval_s": -1.0}, "interval_s must be > 0"),
        ({"status_interval_s": 0.0}, "status_interval_s must be > 0"),
    ],
)
def test_watchdog_rejects_bad_intervals(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Watchdog(Notifier(None), Counter(), **kwargs)  # type: ignore[arg-type]


def test_watchdog_rejects_time_going_backwards() -> None:
    watchdog = Watchdog(Notifier("@unused"), Counter(), interval_s=1.0)
    watchdog.tick(10.0)
    with pytest.raises(ValueError, match="went backwards"):
        watchdog.tick(9.0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_stops_second_forces_exit(signum: signal.Signals) -> None:
    stops: list[str] = []
    exits: list[int] = []
    before = signal.getsignal(signum)
    restore = install_signal_handlers(
        lambda: stops.append("stop"), force_exit=exits.append, dump_tracebacks_on_crash=False
    )
    try:
        signal.raise_signal(signum)
        assert stops == ["stop"]
        assert exits == []
        signal.raise_signal(signal.SIGTERM)
        assert stops == ["stop"]
        assert exits == [128 + signal.SIGTERM]
    finally:
        restore()
    assert signal.getsignal(signum) == before


def test_signal_handlers_need_the_main_thread() -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            install_signal_handlers(lambda: None, dump_tracebacks_on_crash=False)
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert "main thread" in str(errors[0])
