"""Shared test fixtures: where the real models, photos and videos live."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES_ENV = "CAMERA_APP_FIXTURES"


def fixtures_path() -> Path:
    return Path(os.environ.get(FIXTURES_ENV, REPO.parent / "shared" / "fixtures"))


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
