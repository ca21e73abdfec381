"""systemd/install.sh --prefix into a temporary root: tree, idempotence, uninstall,
and what a real install does where systemd is absent or the userland is 32-bit.

Only ``--prefix`` and ``--dry-run`` run here: a real install would apt-get,
useradd and systemctl on this machine. The venv and the model pull are in
test_install_venv.py.
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


def run_install(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL_SH), *args],
        capture_output=True,
        text=True,
        check=False,
        env=None if env is None else {**os.environ, **env},
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
    (src / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n")
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


NOT_INSTALLED = "exit 1"


def test_dry_run_of_a_real_install_shows_the_pi_steps(tmp_path: Path, source: Path) -> None:
    """Without --prefix: apt, user, venv with apt's numpy, systemctl, all printed only."""
    before = snapshot(source)
    path = path_without(tmp_path, "dpkg-query", fakes={"dpkg-query": NOT_INSTALLED})
    result = run_install("--source", str(source), "--dry-run", "--no-start", env={"PATH": path})
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
    state = "/var/lib/camera-app"
    assert f"+ install -d -m 0750 -o camera-app -g camera-app {state} {state}/models" in out
    cli = "/opt/camera-app/venv/bin/camera-app"
    assert f"+ {cli} models pull coco-ssd-mobilenet-v1 --dest {state}/models" in out


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


def path_without(tmp_path: Path, *missing: str, fakes: dict[str, str] | None = None) -> str:
    """A PATH with every program of this machine but ``missing``, plus ``fakes``
    (name -> bash body)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (fakes or {}).items():
        fake = bin_dir / name
        fake.write_text(f"#!/bin/bash\n{body}\n")
        fake.chmod(0o755)
    for directory in (
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ):
        if not Path(directory).is_dir():
            continue
        for program in Path(directory).iterdir():
            link = bin_dir / program.name
            if program.name not in missing and not link.exists() and not link.is_symlink():
                link.symlink_to(program)
    return str(bin_dir)


SYSTEMCTL_LOG = (
    'echo "systemctl $*" >>"$FAKE_LOG"; [ "$1" != --version ] || echo "systemd 257 (257.9)"'
)


def test_without_systemctl_files_are_laid_out_and_enabled_only(
    tmp_path: Path, source: Path
) -> None:
    path = path_without(tmp_path, "systemctl")
    result = run_install("--source", str(source), "--dry-run", "--no-model", env={"PATH": path})
    assert "systemctl is missing: files laid out only" in result.stdout
    assert "+ systemctl" not in result.stdout
    wants = "/etc/systemd/system/multi-user.target.wants/camera-app.service"
    assert f"+ ln -sfn /etc/systemd/system/camera-app.service {wants}" in result.stdout


def test_systemctl_without_a_running_systemd_is_not_used(tmp_path: Path, source: Path) -> None:
    log = tmp_path / "calls.log"
    path = path_without(tmp_path, "systemctl", fakes={"systemctl": SYSTEMCTL_LOG})
    result = run_install(
        "--source",
        str(source),
        "--dry-run",
        "--no-model",
        env={
            "PATH": path,
            "FAKE_LOG": str(log),
            "CAMERA_APP_SYSTEMD_RUNTIME_DIR": str(tmp_path / "absent"),
        },
    )
    assert "systemd is not running (a chroot or a container?): files laid out only" in result.stdout
    assert "+ systemctl" not in result.stdout
    # Asked for its version only (to pick the drop-in), never to act.
    assert log.read_text().splitlines() == ["systemctl --version"]


def test_a_running_systemd_is_reloaded_enabled_and_restarted(tmp_path: Path, source: Path) -> None:
    runtime = tmp_path / "run-systemd-system"
    runtime.mkdir()
    path = path_without(tmp_path, "systemctl", fakes={"systemctl": SYSTEMCTL_LOG})
    env = {
        "PATH": path,
        "FAKE_LOG": str(tmp_path / "log"),
        "CAMERA_APP_SYSTEMD_RUNTIME_DIR": str(runtime),
    }
    result = run_install("--source", str(source), "--dry-run", "--no-model", env=env)
    out = result.stdout
    steps = ["+ systemctl daemon-reload", "+ systemctl enable camera-app.service"]
    steps.append("+ systemctl restart camera-app.service")
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "files laid out only" not in out
    assert "+ ln -sfn" not in out
    assert "[release unknown, systemd 257]" in out or "systemd 257]" in out


def test_prefix_never_calls_systemctl(tmp_path: Path, source: Path) -> None:
    log = tmp_path / "calls.log"
    path = path_without(tmp_path, "systemctl", fakes={"systemctl": SYSTEMCTL_LOG})
    root = make_root(tmp_path, TRIXIE)
    env = {"PATH": path, "FAKE_LOG": str(log)}
    run_install("--prefix", str(root), "--source", str(source), env=env)
    run_install("--prefix", str(root), "--uninstall", env=env)
    assert not log.exists()


FAKE_PYTHON = """case "$1" in
    --version) echo "Python 3.11.2" ;;
    -c) echo "$FAKE_BITS $FAKE_MACHINE" ;;
esac"""


@pytest.mark.parametrize(
    ("dpkg_arch", "bits", "machine", "refused"),
    [
        ("armhf", "32", "armv7l", True),
        # 32-bit Raspberry Pi OS on its default 64-bit kernel: uname says aarch64.
        ("armhf", "32", "aarch64", True),
        ("armel", "32", "armv6l", True),
        # A 32-bit python (or a linux32 shell) on a 64-bit dpkg.
        ("arm64", "32", "armv7l", True),
        ("arm64", "64", "armv7l", True),
        ("arm64", "64", "aarch64", False),
        ("amd64", "64", "x86_64", False),
    ],
)
def test_a_32_bit_userland_is_refused_up_front(
    tmp_path: Path, source: Path, dpkg_arch: str, bits: str, machine: str, refused: bool
) -> None:
    path = path_without(
        tmp_path, "dpkg", fakes={"dpkg": f"echo {dpkg_arch}", "python3": FAKE_PYTHON}
    )
    env = {"PATH": path, "FAKE_BITS": bits, "FAKE_MACHINE": machine, "PYTHON": "python3"}
    result = run_install("--source", str(source), "--dry-run", check=False, env=env)
    if refused:
        assert result.returncode == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "32-bit userland" in lines[0]
        assert "no 32-bit wheels" in lines[0]
        assert "Raspberry Pi OS (64-bit)" in lines[0]
    else:
        assert "32-bit" not in result.stderr
        assert "+ apt-get update" in result.stdout


def test_a_prefix_tree_without_venv_is_not_checked_for_32_bit(tmp_path: Path, source: Path) -> None:
    """Such a tree may be laid out here for another machine."""
    path = path_without(tmp_path, "dpkg", fakes={"dpkg": "echo armhf"})
    root = make_root(tmp_path, BOOKWORM)
    result = run_install("--prefix", str(root), "--source", str(source), env={"PATH": path})
    assert "32-bit" not in result.stderr
    assert (root / UNIT).is_file()


def test_prefix_without_venv_says_where_the_model_comes_from(tmp_path: Path, source: Path) -> None:
    root = make_root(tmp_path, BOOKWORM)
    result = run_install("--prefix", str(root), "--source", str(source))
    assert "no venv here, so no model pulled" in result.stdout
    assert f"models pull coco-ssd-mobilenet-v1 --dest {root}/var/lib/camera-app/models" in (
        result.stdout
    )
    assert (root / "var/lib/camera-app/models").is_dir()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model"], "--model needs a name"),
        (["--model", ""], "--model needs a name"),
        (["--model="], "--model needs a name"),
    ],
)
def test_model_option_needs_a_name(args: list[str], message: str) -> None:
    result = run_install(*args, check=False)
    assert result.returncode == 1
    assert message in result.stderr


@pytest.mark.parametrize(
    ("installed", "apt_knows_picamera2", "apt_runs"),
    [
        (["python3", "python3-venv", "python3-numpy"], False, False),
        (["python3", "python3-venv", "python3-numpy", "python3-picamera2"], True, False),
        # Raspberry Pi OS without picamera2 yet: apt installs it.
        (["python3", "python3-venv", "python3-numpy"], True, True),
        (["python3", "python3-venv"], False, True),
    ],
)
def test_apt_runs_only_when_a_package_is_missing(
    tmp_path: Path, source: Path, installed: list[str], apt_knows_picamera2: bool, apt_runs: bool
) -> None:
    dpkg_query = (
        'case " $INSTALLED " in *" ${!#} "*) printf "install ok installed" ;; *) exit 1 ;; esac'
    )
    apt_cache = f"exit {0 if apt_knows_picamera2 else 100}"
    path = path_without(
        tmp_path,
        "dpkg-query",
        "apt-cache",
        fakes={"dpkg-query": dpkg_query, "apt-cache": apt_cache},
    )
    env = {"PATH": path, "INSTALLED": " ".join(installed)}
    result = run_install("--source", str(source), "--dry-run", "--no-model", env=env)
    assert ("+ apt-get update" in result.stdout) == apt_runs
    assert ("apt-get not run" in result.stdout) == (not apt_runs)
    if not apt_runs:
        picamera2 = "python3-picamera2" in installed
        assert ("python3-picamera2 is not installed" in result.stderr) == (not picamera2)
