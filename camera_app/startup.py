"""A start-up that waits for what a service cannot run without: its model
file and its camera.

A Pi fresh from ``install.sh`` may have no model yet (the install ran
offline) and a camera that is not detected, unplugged, busy, or (a network
camera after a power cut) still booting. Exiting would leave systemd with a
unit that failed for good (exit 2 is not restarted) or a crash loop. With
``[service] wait = true`` (the installed config) or ``camera-app run --wait``
the run waits instead:

- the reason is logged once, and again only when it changes;
- systemd hears ``READY=1`` with ``STATUS=waiting: <reason>`` (``systemctl
  status camera-app`` shows it) and the watchdog keeps being pinged, so the
  unit is active, not restarting;
- ``/healthz`` answers 503 with the reason (when ``[http] listen`` is set);
- every ``wait_interval_s`` it looks again: the model file exists, then the
  camera opens (probed on its own, so outputs and the model are built once
  the camera is there, not at every try);
- SIGTERM while waiting ends it like any stop during start-up (exit 0).

What waiting cannot fix still ends the run with its one-line error: a model
file that is not a model, a bad config key, a video file that does not
exist, picamera2 not installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from camera_app.app import build_http
from camera_app.config import AppConfig
from camera_app.errors import SourceUnavailableError
from camera_app.http.server import HttpServer
from camera_app.service import Notifier
from camera_app.signals import checkpoint
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

MODEL_HINT = "`camera-app models pull NAME --dest DIR` fetches one (`camera-app models list`)"
MAX_STEP_S = 1.0
"""The longest single sleep: a stop is noticed within it even without a signal handler."""

T = TypeVar("T")


def missing_model(config: AppConfig) -> str | None:
    """Why the model cannot load yet (its file or its labels file does not
    exist), or None. A missing ``model.path`` setting is a config error, not
    something to wait for (``check_files`` reports it)."""
    m = config.model
    for key, value in (("model.path", m.path), ("model.labels", m.labels)):
        if value is not None and not Path(value).exists():
            return f"no model: {key} {value} does not exist"
    return None


class StartupWait:
    """Says why the start-up waits (log, systemd status, /healthz) and sleeps."""

    def __init__(
        self,
        config: AppConfig,
        notifier: Notifier,
        environ: Mapping[str, str],
        *,
        insecure_no_auth: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.interval_s = config.service.wait_interval_s
        self.notifier = notifier
        self.environ = environ
        self.insecure_no_auth = insecure_no_auth
        """``--insecure-no-auth``: the same server as the run's."""
        self.reason: str | None = None
        """What the start-up waits for now; None before the first wait."""
        self.waits = 0
        self._sleep = sleep
        self._clock = clock
        self._http: HttpServer | None = None
        self._last_ping_s: float | None = None

    def wait(self, reason: str) -> None:
        """Report ``reason`` and sleep one interval, pinging systemd's watchdog;
        a stop signal raises ``Interrupted`` (see :mod:`camera_app.signals`)."""
        if reason != self.reason:
            hint = f"; {MODEL_HINT}" if reason.startswith("no model") else ""
            log.warning("waiting: %s%s; looking again every %g s", reason, hint, self.interval_s)
        status = f"waiting: {reason}"
        if self.reason is None:
            self.notifier.ready(status)  # started and healthy as a process: no restarts
        elif reason != self.reason:
            self.notifier.status(status)
        self.reason = reason
        self.waits += 1
        self._serve()
        ping_s = self.notifier.watchdog_interval_s()
        deadline = self._clock() + self.interval_s
        while True:
            checkpoint()
            now = self._clock()
            if ping_s is not None and (
                self._last_ping_s is None or now - self._last_ping_s >= ping_s
            ):
                self.notifier.watchdog()
                self._last_ping_s = now
            left = deadline - now
            if left <= 0:
                return
            self._sleep(min(left, MAX_STEP_S, ping_s or MAX_STEP_S))

    def close(self) -> None:
        """Stop answering /healthz (the run binds the same port next)."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def _serve(self) -> None:
        if self._http is not None:
            return
        http = build_http(self.config, PipelineStats(), self.environ, self.insecure_no_auth)
        if http is None:
            return
        http.add_health("startup", lambda: f"waiting: {self.reason}", first=True)
        http.add_stats_fields(lambda: {"waiting": self.reason})
        http.start()
        self._http = http


def start_when_ready(
    build: Callable[[], T],
    *,
    check_files: Callable[[], object],
    missing: Callable[[], str | None],
    probe_source: Callable[[], None],
    waiter: StartupWait,
) -> T:
    """``build()`` once nothing is ``missing()`` (the model file) and the camera opens.

    ``check_files()`` runs once nothing is missing: its errors (a file that
    is not a model...) are raised, not waited for. ``build`` raising
    :class:`SourceUnavailableError` means the camera is not there: the next
    tries call ``probe_source()`` (open the source alone and close it) and
    build again only once that succeeds. Other errors are raised.
    """
    probe = False
    try:
        while True:
            reason = missing()
            if reason is None:
                check_files()
                try:
                    if probe:
                        probe_source()
                    waiter.close()
                    built = build()
                except SourceUnavailableError as e:
                    reason, probe = f"no camera: {e}", True
                else:
                    if waiter.reason is not None:
                        log.info("done waiting (it was: %s)", waiter.reason)
                    return built
            waiter.wait(reason)
    finally:
        waiter.close()
