"""systemd/install.sh --prefix DIR --with-venv: the venv build and the model pull.

python3 and the venv's camera-app are stand-ins (bash scripts that log their
arguments): no network, no pip. The real thing runs in tools/pi_check.
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
MODEL = "coco-ssd-mobilenet-v1"
REPORT = "python 3.11.2, numpy 1.24.2, opencv 4.11.0, picamera2 absent, camera_app 0.1.0"

FAKE_PYTHON = r"""#!/bin/bash
# A stand-in python3: logs its arguments; fakes venv, pip and the imports.
printf 'python %s\n' "$*" >>"$FAKE_LOG"
case $1 in
    --version) echo "Python 3.11.2" ;;
    -c)
        case $2 in
            *struct.calcsize*) echo "64 aarch64" ;;
            *"import numpy"*) echo "$FAKE_NUMPY" ;;
            *) exit 1 ;;
        esac
        ;;
    -m)
        case $2 in
            venv)
                mkdir -p "${!#}/bin"
                cp "$0" "${!#}/bin/python"
                cp "$FAKE_CLI" "${!#}/bin/camera-app"
                ;;
            pip)
                src=${!#}
                (cd "$src" && find . -type f | sort) >"$FAKE_LOG.files"
                mkdir -p "$src/build"
                if [ -n "${FAKE_PIP_FAIL:-}" ]; then
                    echo "ERROR: Could not find a version that satisfies the requirement" >&2
                    exit 1
                fi
                ;;
        esac
        ;;
    -) cat >/dev/null; echo "$FAKE_REPORT" ;;  # venv_report
esac
"""

FAKE_CLI = r"""#!/bin/bash
# A stand-in camera-app: logs its arguments; fakes `models pull`.
printf 'camera-app %s\n' "$*" >>"$FAKE_LOG"
if [ -n "${FAKE_NO_MODELS:-}" ]; then
    echo "camera-app: error: argument COMMAND: invalid choice: 'models'" >&2
    exit 2
fi
[ "$1 $2" = "models pull" ] || exit 2
[ "$3" != --help ] || exit 0
if [ -n "${FAKE_PULL_FAIL:-}" ]; then
    echo "camera-app: error: cannot resolve storage.googleapis.com (offline, or no DNS?)" >&2
    exit 1
fi
mkdir -p "${!#}"
echo "weights" >"${!#}/$3.tflite"
echo "[model]"
"""


class Fakes:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "fakes"
        self.dir.mkdir()
        self.log = tmp_path / "calls.log"
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.python = self._write("python3", FAKE_PYTHON)
        self.cli = self._write("camera-app", FAKE_CLI)
        self.env = {
            "PYTHON": str(self.python),
            "FAKE_CLI": str(self.cli),
            "FAKE_LOG": str(self.log),
            "FAKE_NUMPY": "1.24.2",
            "FAKE_REPORT": REPORT,
            "TMPDIR": str(self.tmp),
        }

    def _write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def calls(self, prefix: str) -> list[str]:
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]

    def pip_calls(self) -> list[str]:
        return [line for line in self.calls("python ") if " -m pip install " in line]


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    return Fakes(tmp_path)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A checkout: the repo's unit and example config, a package, and what
    the build must leave out (venvs, tests, caches, models, .git)."""
    src = tmp_path / "src"
    (src / "systemd").mkdir(parents=True)
    for name in ("camera-app.service", "camera-app.toml"):
        shutil.copy(REPO / "systemd" / name, src / "systemd" / name)
    (src / "pyproject.toml").write_text("[project]\nname = 'camera_app'\n")
    (src / "README.md").write_text("readme\n")
    for rel in (
        "camera_app/__init__.py",
        "camera_app/__pycache__/__init__.cpython-311.pyc",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_x.py",
        "models/model.tflite",
        "camera_app.egg-info/PKG-INFO",
    ):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(f"{rel}\n")
    return src


def run_install(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL_SH), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def install_venv(
    root: Path, source: Path, fakes: Fakes, *extra: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ("--prefix", str(root), "--with-venv", "--source", str(source), *extra)
    return run_install(*args, env={**fakes.env, **env}, check=check)


def snapshot(root: Path) -> dict[str, str]:
    tree = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            tree[rel] = "link " + os.readlink(path)
        elif path.is_dir():
            tree[rel] = f"dir {path.stat().st_mode & 0o7777:o}"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[rel] = f"file {path.stat().st_mode & 0o7777:o} {digest}"
    return tree


def test_the_venv_is_built_from_a_copy_and_the_checkout_stays_clean(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    before = snapshot(source)
    result = install_venv(root, source, fakes)
    venv = root / "opt/camera-app/venv"
    assert f"python -m venv --system-site-packages {venv}" in fakes.calls("python ")
    [pip] = fakes.pip_calls()
    assert f"--constraint {root}/opt/camera-app/constraints.txt" in pip
    built_from = pip.split()[-1]
    assert built_from.startswith(str(fakes.tmp)) and built_from != str(source)
    assert snapshot(source) == before  # no build/ left in the checkout
    assert list(fakes.tmp.iterdir()) == []  # the copy is gone
    built = Path(f"{fakes.log}.files").read_text().split()
    assert built == [
        "./README.md",
        "./camera_app/__init__.py",
        "./pyproject.toml",
        "./systemd/camera-app.service",
        "./systemd/camera-app.toml",
    ]
    constraints = (root / "opt/camera-app/constraints.txt").read_text()
    assert "numpy==1.24.2\n" in constraints
    assert "opencv-python-headless<4.12\n" in constraints
    assert f"venv: {REPORT}" in result.stdout
    assert "picamera2 does not import in the venv" in result.stderr
    assert not (root / "opt/camera-app/VENV-NOT-BUILT").exists()


def test_trixie_numpy_2_needs_no_opencv_cap(tmp_path: Path, source: Path, fakes: Fakes) -> None:
    root = tmp_path / "root"
    install_venv(root, source, fakes, FAKE_NUMPY="2.2.4")
    constraints = (root / "opt/camera-app/constraints.txt").read_text()
    assert "numpy==2.2.4\n" in constraints
    assert "opencv" not in constraints


def test_the_config_of_a_venv_tree_points_into_it(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    install_venv(root, source, fakes)
    config = (root / "etc/camera-app/camera-app.toml").read_text()
    models = f"{root}/var/lib/camera-app/models"
    assert f'path = "{models}/ssd_mobilenet_v1_coco_quant.tflite"' in config
    assert f'labels = "{models}/coco_labels.txt"' in config
    assert '"/var/lib/camera-app' not in config
    example = (root / "etc/camera-app/camera-app.toml.example").read_text()
    assert example == (REPO / "systemd/camera-app.toml").read_text()


def test_a_second_run_skips_pip_and_changes_nothing(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    first_run = install_venv(root, source, fakes)
    first = snapshot(root)
    second = install_venv(root, source, fakes)
    assert snapshot(root) == first
    assert len(fakes.pip_calls()) == 1
    assert "pip not run" in second.stdout
    assert second.stderr == first_run.stderr  # the same warnings (not Pi OS, no picamera2)


@pytest.mark.parametrize(
    ("change", "reinstalled"),
    [
        ("camera_app/__init__.py", True),
        ("pyproject.toml", True),
        # Outside the build: no reinstall.
        ("tests/test_x.py", False),
        ("camera_app/__pycache__/__init__.cpython-311.pyc", False),
    ],
)
def test_only_a_changed_build_is_reinstalled(
    tmp_path: Path, source: Path, fakes: Fakes, change: str, reinstalled: bool
) -> None:
    root = tmp_path / "root"
    install_venv(root, source, fakes)
    with (source / change).open("a") as f:
        f.write("# changed\n")
    install_venv(root, source, fakes)
    assert len(fakes.pip_calls()) == (2 if reinstalled else 1)


def test_a_new_numpy_is_reinstalled(tmp_path: Path, source: Path, fakes: Fakes) -> None:
    root = tmp_path / "root"
    install_venv(root, source, fakes)
    install_venv(root, source, fakes, FAKE_NUMPY="1.26.4")
    assert len(fakes.pip_calls()) == 2


def test_a_pip_failure_fails_and_is_retried_next_time(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    failed = install_venv(root, source, fakes, check=False, FAKE_PIP_FAIL="1")
    assert failed.returncode == 1
    assert "error: pip could not install" in failed.stderr
    assert not (root / "opt/camera-app/installed-from.sha256").exists()
    assert list(fakes.tmp.iterdir()) == []
    install_venv(root, source, fakes)
    assert len(fakes.pip_calls()) == 2


def test_the_default_model_is_pulled_into_the_state_directory(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    result = install_venv(root, source, fakes)
    models = root / "var/lib/camera-app/models"
    assert fakes.calls("camera-app ") == [f"camera-app models pull {MODEL} --dest {models}"]
    assert (models / f"{MODEL}.tflite").is_file()
    assert f"model {MODEL} is in {models}" in result.stdout


@pytest.mark.parametrize(
    ("args", "pulled"),
    [
        (["--model", "movenet-lightning"], "movenet-lightning"),
        (["--model=efficientdet-lite0"], "efficientdet-lite0"),
        (["--no-model"], None),
    ],
)
def test_the_model_option_names_the_model(
    tmp_path: Path, source: Path, fakes: Fakes, args: list[str], pulled: str | None
) -> None:
    root = tmp_path / "root"
    result = install_venv(root, source, fakes, *args)
    pulls = [c for c in fakes.calls("camera-app models pull") if "--help" not in c]
    if pulled is None:
        assert pulls == []
        assert "no model pulled (--no-model)" in result.stdout
    else:
        assert pulls == [f"camera-app models pull {pulled} --dest {root}/var/lib/camera-app/models"]


def test_a_failed_pull_completes_the_install_with_a_hint(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    result = install_venv(root, source, fakes, FAKE_PULL_FAIL="1")
    cli = root / "opt/camera-app/venv/bin/camera-app"
    models = root / "var/lib/camera-app/models"
    assert "cannot resolve storage.googleapis.com" in result.stderr
    [warning] = [line for line in result.stderr.splitlines() if "could not be pulled" in line]
    assert warning.startswith(f"camera-app install: warning: the model {MODEL} could not be pulled")
    assert f"Add it later with: {cli} models pull {MODEL} --dest {models}" in warning
    assert f"installed into {root}" in result.stdout
    assert (root / "etc/systemd/system/camera-app.service").is_file()
    assert list(models.iterdir()) == []


def test_a_camera_app_without_models_pull_completes_with_a_hint(
    tmp_path: Path, source: Path, fakes: Fakes
) -> None:
    root = tmp_path / "root"
    result = install_venv(root, source, fakes, FAKE_NO_MODELS="2")
    assert "has no 'models pull': copy a .tflite model and its labels into" in result.stderr
    assert f"installed into {root}" in result.stdout
    # Tried once, then asked whether the command exists.
    assert fakes.calls("camera-app models pull") == [
        f"camera-app models pull {MODEL} --dest {root}/var/lib/camera-app/models",
        "camera-app models pull --help",
    ]
