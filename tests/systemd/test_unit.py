"""systemd/camera-app.service: systemd-analyze verify and security, devices, directives.

``verify`` checks that ExecStart's binary exists, so it runs with ``--root``
on a temporary tree holding a stub ``/opt/camera-app/venv/bin/camera-app``
and stub units for its dependencies (sysinit, basic, shutdown,
network-online and multi-user targets, system.slice): the unit file itself
is checked unchanged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "camera-app.service"
INSTALL_SH = REPO / "systemd" / "install.sh"
EXEC_START = "/opt/camera-app/venv/bin/camera-app"
STUB_UNITS = (
    "sysinit.target",
    "basic.target",
    "shutdown.target",
    "network-online.target",
    "multi-user.target",
    "system.slice",
)
MAX_EXPOSURE = 3.0
# Directives newer than Bookworm's systemd 252: install.sh puts them in a
# drop-in on systemd >= 254 instead.
NEWER_THAN_252 = ("RestartSteps", "RestartMaxDelaySec")

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (apt-get install systemd)",
)


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment; keys may repeat."""
    entries = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit_entries(UNIT.read_text()) if s == section and k == key]


def systemd_version() -> int:
    out = subprocess.run(["systemctl", "--version"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[1].split(".")[0])


def make_root(root: Path, *, with_exec: bool = True) -> Path:
    """A tree ``verify --root`` accepts: the unit, stub targets, a stub ExecStart."""
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(UNIT, unit_dir / UNIT.name)
    lib = root / "usr/lib/systemd/system"
    lib.mkdir(parents=True, exist_ok=True)
    for name in STUB_UNITS:
        (lib / name).write_text(f"[Unit]\nDescription=stub {name}\n")
    if with_exec:
        stub = root / EXEC_START.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", UNIT.name],
        capture_output=True,
        text=True,
        check=False,
    )


@needs_analyze
def test_verify_passes_without_warnings(tmp_path: Path) -> None:
    result = verify(make_root(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@needs_analyze
def test_verify_checks_the_exec_start_binary(tmp_path: Path) -> None:
    result = verify(make_root(tmp_path, with_exec=False))
    assert result.returncode != 0
    assert EXEC_START in result.stderr


@needs_analyze
def test_security_exposure_is_at_most_3(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


@needs_analyze
@pytest.mark.parametrize(("release", "expect_dropin"), [("bookworm", False), ("trixie", True)])
def test_installed_tree_verifies(tmp_path: Path, release: str, expect_dropin: bool) -> None:
    """The unit plus install.sh's drop-in (Trixie only) as systemd reads them."""
    source = tmp_path / "src"
    (source / "systemd").mkdir(parents=True)
    shutil.copy(UNIT, source / "systemd" / UNIT.name)
    (source / "systemd" / "camera-app.toml").write_text("# stand-in config\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(f"ID=debian\nVERSION_CODENAME={release}\n")
    subprocess.run(
        ["bash", str(INSTALL_SH), "--prefix", str(root), "--source", str(source)],
        check=True,
        capture_output=True,
    )
    dropin = root / "etc/systemd/system/camera-app.service.d/10-restart-backoff.conf"
    assert dropin.exists() == expect_dropin
    result = verify(make_root(root))
    assert result.returncode == 0, result.stderr
    unknown = sorted(set(re.findall(r"Unknown key '?(\w+)'?", result.stderr)))
    if expect_dropin and systemd_version() < 254:
        # Only what the drop-in adds is unknown to this systemd.
        assert unknown == sorted(NEWER_THAN_252), result.stderr
    else:
        assert result.stdout + result.stderr == ""


def test_unit_uses_no_directive_newer_than_252() -> None:
    keys = {k for _, k, _ in unit_entries(UNIT.read_text())}
    assert keys.isdisjoint(NEWER_THAN_252)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Type", ["notify"]),
        ("NotifyAccess", ["main"]),
        ("ExecStart", [f"{EXEC_START} run --config /etc/camera-app/camera-app.toml"]),
        ("WatchdogSec", ["30s"]),
        ("Restart", ["on-failure"]),
        ("User", ["camera-app"]),
        ("Group", ["camera-app"]),
        ("SupplementaryGroups", ["video"]),
        ("StateDirectory", ["camera-app"]),
        ("ConfigurationDirectory", ["camera-app"]),
        ("DevicePolicy", ["closed"]),
        ("ProtectSystem", ["strict"]),
        ("ProtectHome", ["yes"]),
        ("NoNewPrivileges", ["yes"]),
        ("CapabilityBoundingSet", [""]),
        ("MemoryDenyWriteExecute", ["yes"]),
        ("RestrictAddressFamilies", ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"]),
        # Each of these would make the camera unreachable.
        ("PrivateDevices", []),
        ("PrivateUsers", []),
        ("IPAddressDeny", []),
    ],
)
def test_service_directive(key: str, expected: list[str]) -> None:
    assert values(key) == expected


def test_restart_never_gives_up_for_good() -> None:
    assert values("StartLimitIntervalSec", section="Unit") == ["0"]
    assert values("RestartSec") == ["10s"]


@pytest.mark.parametrize(
    ("device_class", "nodes"),
    [
        ("char-video4linux", "/dev/video*, /dev/v4l-subdev*"),
        ("char-media", "/dev/media*"),
        ("char-dma_heap", "/dev/dma_heap/*"),
    ],
)
def test_camera_devices_are_allowed(device_class: str, nodes: str) -> None:
    allowed = {v.split()[0]: v.split()[1] for v in values("DeviceAllow")}
    assert allowed.get(device_class) == "rw", f"{nodes} not reachable"
