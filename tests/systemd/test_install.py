"""systemd/install.sh --prefix into a temporary root: tree, idempotence, uninstall.

Only ``--prefix`` and ``--dry-run`` run here: a real install would apt-get,
useradd and systemctl on this machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "systemd" / "install.sh"
UNIT_SRC = REPO / "systemd" / "camera-app.service"

UNIT = "etc/systemd/system/camera-app.service"
WANTS = "etc/systemd/system/multi-user.target.wants/camera-app.service"
DROPIN_DIR = "etc/systemd/system/camera-app.service.d"
DROPIN = f"{DROPIN_DIR}/10-restart-backoff.conf"
CONFIG = "etc/camera-app/camera-app.toml"
MARKER = "opt/camera-app/VENV-NOT-BUILT"
STATE_FILE = "var/lib/camera-app/detections.jsonl"
LOG_FILE = "var/log/camera-app/camera-app.log"

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
BOOKWORM += 'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\n'
TRIXIE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'
TRIXIE += 'VERSION="13 (trixie)"\nVERSION_CODENAME=trixie\n'


def run_install(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL_SH), *args], capture_output=True, text=True, check=False
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with its mode and content (or link target)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            info = path.lstat()
            if path.is_symlink():
                tree[rel] = "link " + os.readlink(path)
            elif path.is_dir():
                tree[rel] = f"dir {info.st_mode & 0o7777:o}"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                tree[rel] = f"file {info.st_mode & 0o7777:o} {digest}"
    return tree


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A checkout with the repo's unit and a stand-in example config."""
    src = tmp_path / "src"
    (src / "systemd").mkdir(parents=True)
    shutil.copy(UNIT_SRC, src / "systemd" / UNIT_SRC.name)
    (src / "systemd" / "camera-app.toml").write_text("# example config v1\n")
    return src


def make_root(tmp_path: Path, os_release: str | None, where: str = "etc/os-release") -> Path:
    root = tmp_path / "root"
    root.mkdir()
    if os_release is not None:
        (root / where).parent.mkdir(parents=True, exist_ok=True)
        (root / where).write_text(os_release)
    return root


@pytest.mark.parametrize(
    ("os_release", "where", "said", "dropin"),
    [
        (BOOKWORM, "etc/os-release", "[release bookworm, systemd 252]", False),
        (TRIXIE, "etc/os-release", "[release trixie, systemd 257]", True),
        (TRIXIE, "usr/lib/os-release", "[release trixie, systemd 257]", True),
        # No VERSION_CODENAME: read from VERSION.
        ('NAME="Debian"\nVERSION="12 (bookworm)"\n', "etc/os-release", "release bookworm", False),
        ('NAME="Ubuntu"\nVERSION_CODENAME=noble\n', "etc/os-release", "release noble", False),
        (None, "etc/os-release", "release unknown", False),
    ],
)
def test_detects_the_release_and_installs_the_tree(
    tmp_path: Path, source: Path, os_release: str | None, where: str, said: str, dropin: bool
) -> None:
    root = make_root(tmp_path, os_release, where)
    result = run_install("--prefix", str(root), "--source", str(source))
    assert said in result.stdout
    supported = "bookworm" in said or "trixie" in said
    assert ("not Raspberry Pi OS Bookworm or Trixie" in result.stderr) == (not supported)
    assert (root / UNIT).read_bytes() == UNIT_SRC.read_bytes()
    assert os.readlink(root / WANTS) == "/etc/systemd/system/camera-app.service"
    assert (root / CONFIG).read_text() == "# example config v1\n"
    assert (root / f"{CONFIG}.example").read_text() == "# example config v1\n"
    assert (root / CONFIG).stat().st_mode & 0o777 == 0o640
    assert (root / "etc/camera-app").stat().st_mode & 0o777 == 0o750
    assert (root / MARKER).is_file()
    assert not (root / "opt/camera-app/venv").exists()
    assert (root / DROPIN).exists() == dropin
    if dropin:
        text = (root / DROPIN).read_text()
        assert "RestartSteps=" in text
        assert "RestartMaxDelaySec=" in text


@pytest.mark.parametrize("os_release", [BOOKWORM, TRIXIE])
def test_second_install_gives_the_same_tree(tmp_path: Path, source: Path, os_release: str) -> None:
    root = make_root(tmp_path, os_release)
    run_install("--prefix", str(root), "--source", str(source))
    first = snapshot(root)
    second_run = run_install("--prefix", str(root), "--source", str(source))
    assert snapshot(root) == first
    assert second_run.stderr == ""
    assert "keeping the existing" in second_run.stdout


def test_edited_config_is_never_overwritten(tmp_path: Path, source: Path) -> None:
    root = make_root(tmp_path, BOOKWORM)
    run_install("--prefix", str(root), "--source", str(source))
    (root / CONFIG).write_text("# edited by the user\n")
    (source / "systemd" / "camera-app.toml").write_text("# example config v2\n")
    run_install("--prefix", str(root), "--source", str(source))
    assert (root / CONFIG).read_text() == "# edited by the user\n"
    assert (root / f"{CONFIG}.example").read_text() == "# example config v2\n"


def test_upgrade_to_trixie_adds_the_dropin_and_back_removes_it(
    tmp_path: Path, source: Path
) -> None:
    root = make_root(tmp_path, BOOKWORM)
    run_install("--prefix", str(root), "--source", str(source))
    assert not (root / DROPIN).exists()
    (root / "etc/os-release").write_text(TRIXIE)
    run_install("--prefix", str(root), "--source", str(source))
    assert (root / DROPIN).is_file()
    (root / "etc/os-release").write_text(BOOKWORM)
    run_install("--prefix", str(root), "--source", str(source))
    assert not (root / DROPIN).exists()


def installed_with_outputs(tmp_path: Path, source: Path) -> Path:
    """A Trixie install plus what the running service and the user leave behind."""
    root = make_root(tmp_path, TRIXIE)
    run_install("--prefix", str(root), "--source", str(source))
    for rel in (STATE_FILE, LOG_FILE, f"{DROPIN_DIR}/override.conf"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("kept?\n")
    return root


def test_uninstall_keeps_config_outputs_and_overrides(tmp_path: Path, source: Path) -> None:
    root = installed_with_outputs(tmp_path, source)
    result = run_install("--prefix", str(root), "--uninstall")
    for gone in (UNIT, WANTS, DROPIN, "opt/camera-app"):
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    for kept in (CONFIG, STATE_FILE, LOG_FILE, f"{DROPIN_DIR}/override.conf"):
        assert (root / kept).is_file(), kept
    assert "kept" in result.stdout
    # Twice is fine.
    again = run_install("--prefix", str(root), "--uninstall")
    assert again.stderr == ""


def test_uninstall_purge_removes_everything_of_ours(tmp_path: Path, source: Path) -> None:
    root = installed_with_outputs(tmp_path, source)
    run_install("--prefix", str(root), "--uninstall", "--purge")
    for gone in (UNIT, WANTS, DROPIN_DIR, "opt/camera-app", "etc/camera-app"):
        assert not (root / gone).exists(), gone
    for gone in ("var/lib/camera-app", "var/log/camera-app"):
        assert not (root / gone).exists(), gone
    assert (root / "etc/os-release").is_file()


def test_dry_run_changes_nothing(tmp_path: Path, source: Path) -> None:
    root = make_root(tmp_path, TRIXIE)
    before = snapshot(root)
    result = run_install("--prefix", str(root), "--source", str(source), "--dry-run")
    assert snapshot(root) == before
    assert f"+ install -m 0644 {source}/systemd/camera-app.service {root}/{UNIT}" in result.stdout
    assert f"+ write {root}/{DROPIN}" in result.stdout


def test_dry_run_of_a_real_install_shows_the_pi_steps(tmp_path: Path, source: Path) -> None:
    """Without --prefix: apt, user, venv with apt's numpy, systemctl, all printed only."""
    (source / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n")
    before = snapshot(source)
    result = run_install("--source", str(source), "--dry-run", "--no-start")
    assert snapshot(source) == before
    out = result.stdout
    assert "+ apt-get update" in out
    assert "apt-get install -y --no-install-recommends python3 python3-venv python3-numpy" in out
    assert "useradd --system" in out or "usermod --append --groups video" in out
    assert "install -d -m 0750 -o root -g camera-app /etc/camera-app" in out
    assert "-m venv --system-site-packages /opt/camera-app/venv" in out
    assert "pip install" in out and "--constraint /opt/camera-app/constraints.txt" in out
    assert "+ install -m 0644" in out and "/etc/systemd/system/camera-app.service" in out
    assert "target: " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--purge"], "--purge only goes with --uninstall"),
        (["--bogus"], "unknown option: --bogus"),
        (["--prefix", "/"], "--prefix / is the live system"),
        (["--prefix"], "--prefix needs a directory"),
    ],
)
def test_bad_arguments_fail_with_a_message(args: list[str], message: str) -> None:
    result = run_install(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_missing_source_files_fail(tmp_path: Path) -> None:
    root = make_root(tmp_path, BOOKWORM)
    before = snapshot(root)
    result = run_install("--prefix", str(root), "--source", str(tmp_path / "nowhere"), check=False)
    assert result.returncode != 0
    assert "missing" in result.stderr
    assert snapshot(root) == before


def test_uninstall_of_a_missing_prefix_fails(tmp_path: Path) -> None:
    result = run_install("--prefix", str(tmp_path / "absent"), "--uninstall", check=False)
    assert result.returncode != 0
    assert "no such prefix" in result.stderr


def test_default_source_is_the_repo(tmp_path: Path) -> None:
    example = REPO / "systemd" / "camera-app.toml"
    if not example.is_file():
        pytest.skip(f"{example} not written yet")
    root = make_root(tmp_path, BOOKWORM)
    run_install("--prefix", str(root))
    assert (root / CONFIG).read_bytes() == example.read_bytes()
