"""``camera-app doctor``: what is wrong with this install, one check per line.

Each check is a small function returning a :class:`Check` (name, level,
message): ``OK``, ``WARN`` (works, but look at it) or ``FAIL`` (a run would
fail). :func:`run_checks` runs them all in order; the installer and the
Home Assistant integration can call the same functions one by one. Every
check is bounded in time (network and subprocess calls have timeouts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Level = Literal["OK", "WARN", "FAIL"]
DEFAULT_CONFIG = Path("/etc/camera-app/camera-app.toml")
"""The service's config (systemd/camera-app.service), used when present and
no ``--config`` is given."""


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    name: str
    level: Level
    message: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "level": self.level, "message": self.message}


def ok(name: str, message: str) -> Check:
    return Check(name, "OK", message)


def warn(name: str, message: str) -> Check:
    return Check(name, "WARN", message)


def fail(name: str, message: str) -> Check:
    return Check(name, "FAIL", message)


def exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings allowed), else 1."""
    return 1 if any(c.level == "FAIL" for c in checks) else 0


def config_path(given: str | None) -> str | None:
    if given is not None:
        return given
    return str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None


def run_checks(config_file: str | None, *, timeout_s: float = 5.0) -> list[Check]:
    """Every check, in the order they are printed."""
    from camera_app.doctor import app, network, system

    checks = [system.check_python(), system.check_runtime()]
    config_check, config = app.check_config(config_file)
    checks.append(config_check)
    source = _get(config, "source", "spec") if config is not None else None
    checks.append(system.check_camera(source))
    checks.append(app.check_model(config, config_file))
    checks.append(app.check_outputs(config))
    checks.append(network.check_mqtt(config, timeout_s=timeout_s))
    checks.append(network.check_web(config, timeout_s=timeout_s))
    checks.append(system.check_service(timeout_s=timeout_s))
    return checks


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        obj = getattr(obj, name, None)
    return obj
