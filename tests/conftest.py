"""Shared test fixtures: where the real models, photos and videos live."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES_ENV = "CAMERA_APP_FIXTURES"


def fixtures_path() -> Path:
    return Path(os.environ.get(FIXTURES_ENV, REPO.parent / "shared" / "fixtures"))


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fake picamera2 of tests/fakes (picamera2's API boundary), reset to
    a Pi 4 with one camera before and after the test."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "fakes"))
    for name in [m for m in sys.modules if m.partition(".")[0] == "picamera2"]:
        if not hasattr(sys.modules["picamera2"], "FAKE"):  # the real one (on a Pi) was imported
            monkeypatch.delitem(sys.modules, name)
    import picamera2

    assert hasattr(picamera2, "FAKE"), f"the real picamera2 shadows the fake: {picamera2.__file__}"
    picamera2.reset("pi4")
    yield picamera2
    picamera2.reset("pi4")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``camera_app.cli.main`` installs a stderr handler on the root logger;
    put the previous ones back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared fixtures folder; tests that need it skip when it is missing
    (``.ci/run`` turns such skips into failures)."""
    path = fixtures_path()
    if not (path / "models").is_dir():
        pytest.skip(f"fixtures folder not found: {path} (set {FIXTURES_ENV})")
    return path


@pytest.fixture(scope="session")
def models_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "models"


@pytest.fixture(scope="session")
def images_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "images"


@pytest.fixture(scope="session")
def videos_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "videos"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With CAMERA_APP_NO_SKIPS=1 (as in .ci/run) a skipped test fails the run."""
    if not os.environ.get("CAMERA_APP_NO_SKIPS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        if reporter:
            reporter.write_line(
                f"CAMERA_APP_NO_SKIPS: {skipped} test(s) skipped: failing the run", red=True
            )
        session.exitstatus = 1


@pytest.fixture()
def cli_error(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str]]:
    """Run ``camera-app ARGV`` expecting a user error: a non-zero exit code,
    exactly one line on stderr ("camera-app: error: ..."), no traceback and
    nothing on stdout. Returns the exit code and that line."""
    from camera_app.cli import main

    def run(argv: list[str]) -> tuple[int, str]:
        rc = main(argv)
        captured = capsys.readouterr()
        err = captured.err.splitlines()
        assert rc != 0
        assert len(err) == 1, err
        assert err[0].startswith("camera-app: error:"), err
        assert "Traceback" not in captured.err
        assert captured.out == "", "errors come before any result is printed"
        return rc, err[0]

    return run


class Mosquitto:
    """A mosquitto broker of the test's own on a free 127.0.0.1 port.

    ``start()`` returns once the port accepts connections; ``stop()`` and
    ``start()`` again restart it on the same port (a broker outage). With
    ``users`` ({name: password}) anonymous clients are refused.
    """

    def __init__(self, workdir: Path, users: dict[str, str] | None = None) -> None:
        if shutil.which("mosquitto") is None:
            pytest.skip("mosquitto is not installed (apt install mosquitto)")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"log_dest file {workdir / 'mosquitto.log'}",
            "log_type all",
            "user root",  # run as root (CI): keep it, or the files below are unreadable
        ]
        if users:
            passwd = workdir / "passwd"
            for i, (name, password) in enumerate(users.items()):
                subprocess.run(
                    [
                        "mosquitto_passwd",
                        "-b",
                        *(["-c"] if i == 0 else []),
                        str(passwd),
                        name,
                        password,
                    ],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
            lines += [f"password_file {passwd}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        self.config = workdir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        assert not self.running
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise AssertionError(f"mosquitto exited ({self.proc.returncode}): {err.strip()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(
                        f"mosquitto not listening on {self.port} in {timeout_s} s"
                    ) from None
                time.sleep(0.02)  # polling with a deadline

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Make brokers (not started): ``mosquitto_factory(users={"cam": "pw"})``.
    Skips when mosquitto is missing (``.ci/run`` installs it: there a skip fails)."""
    made: list[Mosquitto] = []

    def make(users: dict[str, str] | None = None) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto{len(made)}", users)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture()
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A running anonymous broker on a free port."""
    return mosquitto_factory().start()


@pytest.fixture()
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, for full-disk tests (needs root: skipped with the reason
    otherwise, which CI turns into a failure)."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here (root needed): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)
