#!/usr/bin/env bash
# Install camera-app as a systemd service on a Raspberry Pi (Raspberry Pi OS
# Bookworm or Trixie, Pi 4 or Pi 5), or into a destination root (--prefix).
#
#   sudo systemd/install.sh                 install or upgrade, enable, (re)start
#   sudo systemd/install.sh --uninstall     stop, disable, remove unit and venv
#   sudo systemd/install.sh --uninstall --purge   ...and config, outputs, user
#   systemd/install.sh --prefix /tmp/root   lay the files out under a root only
#
# What it does (each step is skipped with --prefix where marked *):
#   refuse a 32-bit userland (armhf): ai-edge-litert and opencv-python-headless
#     publish no 32-bit ARM wheels; 64-bit Raspberry Pi OS runs on every Pi
#     from the 3 and the Zero 2 W on
#   * apt: python3-venv python3-numpy python3-picamera2 (picamera2 and numpy
#     come from apt: pip's numpy 2 would break apt's simplejpeg and with it
#     picamera2 on Bookworm)
#   * the system user camera-app, in the groups video and render
#   /opt/camera-app/venv, made with --system-site-packages so apt's picamera2
#     and numpy are visible; our package is pip-installed with a constraints
#     file that pins numpy to apt's version (/opt/camera-app/constraints.txt).
#     With --prefix it is built only with --with-venv. The package is built
#     from a copy of the checkout (the checkout stays clean) and reinstalled
#     only when that copy, the constraints or the python changed.
#   /etc/camera-app/camera-app.toml, copied from the example only if absent:
#     an edited config is never overwritten (the example is refreshed beside
#     it as camera-app.toml.example)
#   /etc/systemd/system/camera-app.service, enabled for multi-user.target, and
#     on systemd >= 254 (Trixie) a drop-in with an exponential restart back-off
#   /var/lib/camera-app/models: the model (--model NAME, default the COCO SSD)
#     pulled with `camera-app models pull`; offline, the install completes
#     without it and says how to add one later
#   * systemctl daemon-reload, enable, restart, when systemctl is there and
#     systemd runs (/run/systemd/system); otherwise (a chroot, a container)
#     the files are laid out and the unit enabled by its symlink only
#
# Idempotent: running it again gives the same tree. Options: see --help.
set -euo pipefail

APP=camera-app
SERVICE_USER=camera-app
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ROOT=""
PREFIX_MODE=0
SOURCE=""
ACTION=install
PURGE=0
DRY_RUN=0
WITH_VENV=0
WITH_APT=1
START=1
PYTHON=${PYTHON:-python3}
# The catalogue name of the default model (`camera-app models list`): the
# COCO SSD that the example config's [model] points at.
DEFAULT_MODEL=coco-ssd-mobilenet-v1
MODEL=$DEFAULT_MODEL
# A running systemd shows itself by this directory (sd_booted(3)); tests
# point it elsewhere.
SYSTEMD_RUNTIME_DIR=${CAMERA_APP_SYSTEMD_RUNTIME_DIR:-/run/systemd/system}
# Left out of the copy the package is built from, and of its checksum
# (tar patterns: ./x is at the checkout's top, others anywhere).
BUILD_EXCLUDES=(./.git './.venv*' ./build ./out ./models ./tests ./benchmarks ./tools
    '*.egg-info' __pycache__ .mypy_cache .ruff_cache .pytest_cache)

usage() {
    cat <<EOF
usage: $0 [options]

  --prefix DIR    install under the destination root DIR: no apt, no user,
                  no systemctl, no network (the venv only with --with-venv)
  --source DIR    the camera_app checkout to install (default: $SCRIPT_DIR/..)
  --uninstall     stop and disable the service, remove the unit and the venv;
                  /etc/camera-app and /var/lib/camera-app are kept
  --purge         with --uninstall: also remove the config, the outputs, the
                  logs, the drop-in overrides and the camera-app user
  --with-venv     with --prefix: build the venv too (needs pip's network);
                  the tree then runs where it is, so a new config's paths
                  (/etc, /var/lib, /var/log/camera-app) point under DIR
  --model NAME    the model to pull into /var/lib/camera-app/models
                  (default: $DEFAULT_MODEL; see \`camera-app models list\`)
  --no-model      do not pull a model
  --no-apt        do not run apt-get (packages already installed)
  --no-start      enable the service but do not (re)start it
  --dry-run       print the steps instead of running them
  -h, --help      this help

A 32-bit userland (armhf) is refused: install Raspberry Pi OS (64-bit).
EOF
}

say() { printf '%s: %s\n' "$APP install" "$*"; }
warn() { printf '%s: warning: %s\n' "$APP install" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$APP install" "$*" >&2
    exit 1
}

# Run a command, or print it with --dry-run.
run() {
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# write_file PATH MODE: write stdin to PATH (atomically), or print with --dry-run.
write_file() {
    local path=$1 mode=$2
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '+ write %q (mode %s)\n' "$path" "$mode"
        cat >/dev/null
        return
    fi
    local tmp
    tmp=$(mktemp "$path.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --prefix)
                [ $# -ge 2 ] || die "--prefix needs a directory"
                ROOT=$2
                PREFIX_MODE=1
                shift
                ;;
            --prefix=*) ROOT=${1#--prefix=} PREFIX_MODE=1 ;;
            --source)
                [ $# -ge 2 ] || die "--source needs a directory"
                SOURCE=$2
                shift
                ;;
            --source=*) SOURCE=${1#--source=} ;;
            --uninstall) ACTION=uninstall ;;
            --purge) PURGE=1 ;;
            --with-venv) WITH_VENV=1 ;;
            --model)
                if [ $# -lt 2 ] || [ -z "$2" ]; then
                    die "--model needs a name (see: camera-app models list)"
                fi
                MODEL=$2
                shift
                ;;
            --model=*)
                MODEL=${1#--model=}
                [ -n "$MODEL" ] || die "--model needs a name (see: camera-app models list)"
                ;;
            --no-model) MODEL="" ;;
            --no-apt) WITH_APT=0 ;;
            --no-start) START=0 ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help)
                usage
                exit 0
                ;;
            *)
                usage >&2
                die "unknown option: $1"
                ;;
        esac
        shift
    done
    if [ "$PURGE" -eq 1 ] && [ "$ACTION" != uninstall ]; then
        die "--purge only goes with --uninstall"
    fi
    if [ "$PREFIX_MODE" -eq 1 ]; then
        [ -n "$ROOT" ] || die "--prefix needs a directory"
        ROOT=$(realpath -m -- "$ROOT")
        [ "$ROOT" != / ] || die "--prefix / is the live system: run without --prefix"
        WITH_APT=0
        START=0
    else
        WITH_VENV=1
    fi
    SOURCE=$(realpath -m -- "${SOURCE:-$SCRIPT_DIR/..}")

    UNIT_DIR=$ROOT/etc/systemd/system
    UNIT=$UNIT_DIR/$APP.service
    WANTS_LINK=$UNIT_DIR/multi-user.target.wants/$APP.service
    DROPIN_DIR=$UNIT.d
    DROPIN=$DROPIN_DIR/10-restart-backoff.conf
    OPT=$ROOT/opt/$APP
    VENV=$OPT/venv
    VENV_MARKER=$OPT/VENV-NOT-BUILT
    CONSTRAINTS=$OPT/constraints.txt
    ETC=$ROOT/etc/$APP
    CONFIG=$ETC/$APP.toml
    STATE=$ROOT/var/lib/$APP
    LOGS=$ROOT/var/log/$APP
    MODELS=$STATE/models
    STAMP=$OPT/installed-from.sha256
}

# os-release of the target (under the prefix when given): sets OS_CODENAME,
# OS_PRETTY and SYSTEMD_VERSION (the target's, or the release's when we cannot ask).
detect_os() {
    local file="" candidate
    for candidate in "$ROOT/etc/os-release" "$ROOT/usr/lib/os-release"; do
        if [ -r "$candidate" ]; then
            file=$candidate
            break
        fi
    done
    OS_CODENAME=unknown
    OS_PRETTY=unknown
    if [ -n "$file" ]; then
        OS_PRETTY=$(os_release_field "$file" PRETTY_NAME)
        OS_CODENAME=$(os_release_field "$file" VERSION_CODENAME)
        if [ -z "$OS_CODENAME" ]; then
            OS_CODENAME=$(os_release_field "$file" VERSION | sed -n 's/.*(\([a-z]*\)).*/\1/p')
        fi
        OS_CODENAME=${OS_CODENAME:-unknown}
        OS_PRETTY=${OS_PRETTY:-unknown}
    fi
    local release_systemd=0
    case $OS_CODENAME in
        bookworm) release_systemd=252 ;;
        trixie) release_systemd=257 ;;
        *) warn "not Raspberry Pi OS Bookworm or Trixie ($OS_CODENAME): carrying on untested" ;;
    esac
    SYSTEMD_VERSION=$release_systemd
    if [ "$PREFIX_MODE" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
        SYSTEMD_VERSION=$(systemctl --version | awk 'NR == 1 { print $2 + 0 }')
    fi
    say "target: ${OS_PRETTY} [release ${OS_CODENAME}, systemd ${SYSTEMD_VERSION}]${file:+ from $file}"
}

os_release_field() {
    sed -n "s/^$2=//p" "$1" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# Refuse a 32-bit userland up front, where a venv is built for this machine.
# dpkg's architecture is the reliable sign: on 32-bit Raspberry Pi OS the
# (default) 64-bit kernel makes uname, and python's platform.machine(), say
# aarch64 while pip needs armv7l wheels, which do not exist for
# ai-edge-litert or opencv-python-headless.
check_architecture() {
    [ "$WITH_VENV" -eq 1 ] || return 0
    local arch="" bits="" machine=""
    if command -v dpkg >/dev/null 2>&1; then
        arch=$(dpkg --print-architecture 2>/dev/null) || arch=""
    fi
    if command -v "$PYTHON" >/dev/null 2>&1; then
        read -r bits machine < <("$PYTHON" -c 'import platform, struct
print(struct.calcsize("P") * 8, platform.machine())' 2>/dev/null) || true
    fi
    case "$arch/$bits/$machine" in
        armhf/* | armel/* | i386/* | */32/* | */armv7l | */armv6l)
            die "32-bit userland (dpkg ${arch:-?}, python ${bits:-?}-bit ${machine:-?}) is not supported:" \
                "ai-edge-litert and opencv-python-headless have no 32-bit wheels;" \
                "install Raspberry Pi OS (64-bit), which runs on the Pi 3, 4, 5 and Zero 2 W"
            ;;
    esac
}

apt_installed() {
    [ "$(dpkg-query -W -f '${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

install_apt_packages() {
    [ "$WITH_APT" -eq 1 ] || return 0
    local packages=(python3 python3-venv python3-numpy) package missing=()
    for package in "${packages[@]}"; do
        apt_installed "$package" || missing+=("$package")
    done
    # picamera2 is missing only where apt knows it (Raspberry Pi OS).
    if ! apt_installed python3-picamera2 && apt-cache show python3-picamera2 >/dev/null 2>&1; then
        missing+=(python3-picamera2)
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        # A re-run (an upgrade of camera_app): no apt-get update, no network.
        say "apt packages already installed: apt-get not run"
        apt_installed python3-picamera2 || warn "python3-picamera2 is not installed (not" \
            "Raspberry Pi OS?): the picamera2 source will not work, file/RTSP sources will"
        return
    fi
    run apt-get update
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
        packages+=(python3-picamera2)
    else
        warn "python3-picamera2 is not in the apt sources (not Raspberry Pi OS?):" \
            "the picamera2 source will not work, file/RTSP sources will"
    fi
    # No recommends: picamera2's pull in the desktop preview stack (Qt, OpenGL).
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

create_user() {
    [ "$PREFIX_MODE" -eq 0 ] || return 0
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        run useradd --system --user-group --home-dir "/var/lib/$APP" --no-create-home \
            --shell /usr/sbin/nologin --comment "camera-app service" "$SERVICE_USER"
    fi
    local group
    for group in video render; do
        if getent group "$group" >/dev/null; then
            run usermod --append --groups "$group" "$SERVICE_USER"
        fi
    done
}

# install -m MODE SRC DEST, with the service group as owner outside a prefix.
install_file() {
    local mode=$1 src=$2 dest=$3
    if [ "$PREFIX_MODE" -eq 0 ]; then
        run install -m "$mode" -o root -g "$SERVICE_USER" "$src" "$dest"
    else
        run install -m "$mode" "$src" "$dest"
    fi
}

install_config() {
    # 0750 root:camera-app: the config may hold MQTT/RTSP passwords. The
    # unit's ConfigurationDirectoryMode= matches, so systemd leaves it be.
    if [ "$PREFIX_MODE" -eq 0 ]; then
        run install -d -m 0750 -o root -g "$SERVICE_USER" "$ETC"
    else
        run install -d -m 0750 "$ETC"
    fi
    install_file 0640 "$SOURCE/systemd/$APP.toml" "$CONFIG.example"
    if [ -e "$CONFIG" ]; then
        say "keeping the existing $CONFIG (the new example is $CONFIG.example)"
    elif [ "$PREFIX_MODE" -eq 1 ] && [ "$WITH_VENV" -eq 1 ]; then
        # A tree with its own venv runs where it is: its config points into it.
        sed -e "s|/etc/$APP/|$ETC/|g" -e "s|/var/lib/$APP/|$STATE/|g" \
            -e "s|/var/log/$APP/|$LOGS/|g" "$SOURCE/systemd/$APP.toml" |
            write_file "$CONFIG" 0640
    else
        install_file 0640 "$SOURCE/systemd/$APP.toml" "$CONFIG"
    fi
}

# Copy the checkout's build set into a new temporary directory (printed):
# pip's setuptools build writes build/ and *.egg-info beside the sources,
# which would leave root-owned files in the user's checkout.
copy_build_set() {
    local tmp excludes=() pattern
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$APP-build.XXXXXX")
    for pattern in "${BUILD_EXCLUDES[@]}"; do
        excludes+=("--exclude=$pattern")
    done
    tar -C "$SOURCE" "${excludes[@]}" -cf - . | tar -C "$tmp" -xf -
    printf '%s\n' "$tmp"
}

# One checksum of what pip would install: the build set's files, the
# constraints and the python.
build_digest() {
    local dir=$1
    {
        (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
        cat "$CONSTRAINTS"
        "$PYTHON" --version 2>&1
    } | sha256sum | cut -d ' ' -f 1
}

build_venv() {
    run install -d -m 0755 "$OPT"
    if [ "$WITH_VENV" -eq 0 ]; then
        [ ! -x "$VENV/bin/python" ] || return 0
        write_file "$VENV_MARKER" 0644 <<EOF2
The virtualenv /opt/$APP/venv was not built: install.sh ran with --prefix
and without --with-venv. On the target, run systemd/install.sh (as root) to
build it against the target's own python3 and apt numpy.
EOF2
        return
    fi
    [ -f "$SOURCE/pyproject.toml" ] || die "no pyproject.toml in $SOURCE (use --source)"
    local numpy_version
    if [ "$DRY_RUN" -eq 1 ] && ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
        numpy_version="<apt's>"
    else
        numpy_version=$("$PYTHON" -c 'import numpy; print(numpy.__version__)') ||
            die "$PYTHON cannot import numpy: install apt's python3-numpy"
    fi
    say "pinning numpy to apt's $numpy_version ($("$PYTHON" --version 2>&1))"
    {
        echo "# Written by install.sh: keep apt's numpy (picamera2 and simplejpeg are built on it)."
        echo "numpy==$numpy_version"
        case $numpy_version in
            1.*)
                echo "# opencv-python-headless 4.12 and later need numpy >= 2."
                echo "opencv-python-headless<4.12"
                ;;
        esac
    } | write_file "$CONSTRAINTS" 0644
    if [ ! -x "$VENV/bin/python" ]; then
        run "$PYTHON" -m venv --system-site-packages "$VENV"
    fi
    local pip=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet
        --constraint "$CONSTRAINTS")
    if [ "$DRY_RUN" -eq 1 ]; then
        run "${pip[@]}" "$SOURCE"
        return
    fi
    local build digest report=""
    build=$(copy_build_set)
    digest=$(build_digest "$build")
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ] && [ ! -e "$VENV_MARKER" ] &&
        report=$(venv_report 2>/dev/null); then
        say "the venv already has this checkout (checksum ${digest:0:12}): pip not run"
    else
        rm -f "$STAMP"
        "${pip[@]}" "$build" || {
            rm -rf "$build"
            die "pip could not install $SOURCE into $VENV (see above)"
        }
        printf '%s\n' "$digest" | write_file "$STAMP" 0644
    fi
    rm -rf "$build"
    rm -f "$VENV_MARKER"
    [ -n "$report" ] || report=$(venv_report) || die "the venv cannot import camera_app (see above)"
    say "venv: $report"
    case $report in
        *"picamera2 absent"*) warn "picamera2 does not import in the venv: the camera source will not work" ;;
    esac
}

# One line of what the venv runs: python, numpy, opencv, the runtime,
# picamera2, us. Fails when one of ours does not import.
venv_report() {
    "$VENV/bin/python" - <<'EOF2'
import importlib.metadata as metadata
import platform

import camera_app
import cv2
import numpy


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


try:
    import picamera2  # noqa: F401

    camera = f"picamera2 {version('picamera2')}"
except ImportError:
    camera = "picamera2 absent"
print(
    f"python {platform.python_version()}, numpy {numpy.__version__},"
    f" opencv {cv2.__version__}, ai-edge-litert {version('ai-edge-litert')},"
    f" tflite-runtime {version('tflite-runtime')}, {camera}, camera_app {camera_app.__version__}"
)
EOF2
}

install_unit() {
    run install -d -m 0755 "$UNIT_DIR" "$(dirname "$WANTS_LINK")"
    run install -m 0644 "$SOURCE/systemd/$APP.service" "$UNIT"
    if [ "$SYSTEMD_VERSION" -ge 254 ]; then
        run install -d -m 0755 "$DROPIN_DIR"
        write_file "$DROPIN" 0644 <<'EOF'
# Written by install.sh on systemd >= 254 (RestartSteps= and
# RestartMaxDelaySec= do not exist in 252, Bookworm's): restart after 2 s,
# then wait longer each time, up to 5 min.
[Service]
RestartSec=2s
RestartSteps=8
RestartMaxDelaySec=5min
EOF
    elif [ -e "$DROPIN" ]; then
        run rm -f "$DROPIN"
    fi
    if ! systemd_running; then
        # What `systemctl enable` does, without systemctl.
        run ln -sfn "/etc/systemd/system/$APP.service" "$WANTS_LINK"
    fi
}

# True when systemctl can be used on this machine's running systemd; else
# says why in SYSTEMD_ABSENT.
systemd_running() {
    SYSTEMD_ABSENT=""
    if [ "$PREFIX_MODE" -eq 1 ]; then
        SYSTEMD_ABSENT="--prefix"
    elif ! command -v systemctl >/dev/null 2>&1; then
        SYSTEMD_ABSENT="systemctl is missing"
    elif [ ! -d "$SYSTEMD_RUNTIME_DIR" ]; then
        SYSTEMD_ABSENT="systemd is not running (a chroot or a container?)"
    fi
    [ -z "$SYSTEMD_ABSENT" ]
}

# The state directory and the model in it. The directory belongs to the
# service (as systemd's StateDirectory= would make it); the model files
# stay root's.
pull_model() {
    local owner=()
    [ "$PREFIX_MODE" -eq 1 ] || owner=(-o "$SERVICE_USER" -g "$SERVICE_USER")
    run install -d -m 0750 "${owner[@]}" "$STATE" "$MODELS"
    if [ -z "$MODEL" ]; then
        say "no model pulled (--no-model): put one in $MODELS, see $CONFIG"
        return
    fi
    local cli=$VENV/bin/camera-app
    local later="$cli models pull $MODEL --dest $MODELS"
    [ "$PREFIX_MODE" -eq 1 ] || later="sudo $later"
    if [ "$DRY_RUN" -eq 1 ]; then
        run "$cli" models pull "$MODEL" --dest "$MODELS"
        return
    elif [ ! -x "$cli" ]; then
        say "no venv here, so no model pulled: on the target, run $later"
        return
    fi
    local rc=0
    "$cli" models pull "$MODEL" --dest "$MODELS" || rc=$?
    if [ "$rc" -eq 0 ]; then
        say "model $MODEL is in $MODELS"
    elif [ "$rc" -eq 2 ] && ! "$cli" models pull --help >/dev/null 2>&1; then
        warn "this camera-app has no 'models pull': copy a .tflite model and its labels into $MODELS (see $CONFIG)"
    else
        warn "the model $MODEL could not be pulled (offline?); the install is complete without it." \
            "Add it later with: $later (or copy a .tflite and its labels into $MODELS, see $CONFIG);" \
            "until then the service waits for it (systemctl status camera-app: \"waiting: no model\")"
    fi
}

start_service() {
    [ "$PREFIX_MODE" -eq 0 ] || return 0
    if ! systemd_running; then
        say "$SYSTEMD_ABSENT: files laid out only; the service is enabled for the next boot, not started"
        return
    fi
    run systemctl daemon-reload
    run systemctl enable "$APP.service"
    if [ "$START" -eq 1 ]; then
        run systemctl restart "$APP.service"
        say "started: follow it with journalctl -u $APP -f"
    fi
}

do_install() {
    for file in "$SOURCE/systemd/$APP.service" "$SOURCE/systemd/$APP.toml"; do
        [ -f "$file" ] || die "missing $file (use --source)"
    done
    [ "$PREFIX_MODE" -eq 0 ] || run install -d -m 0755 "$ROOT"
    check_architecture
    detect_os
    install_apt_packages
    create_user
    install_config
    build_venv
    pull_model
    install_unit
    start_service
    say "installed into ${ROOT:-/}"
}

do_uninstall() {
    [ "$PREFIX_MODE" -eq 0 ] || [ -d "$ROOT" ] || die "no such prefix: $ROOT"
    if systemd_running; then
        run systemctl disable --now "$APP.service" || true
    fi
    run rm -f "$WANTS_LINK" "$UNIT" "$DROPIN"
    if [ "$PURGE" -eq 1 ]; then
        run rm -rf "$DROPIN_DIR"
    elif [ -d "$DROPIN_DIR" ]; then
        # Keep the user's own overrides (systemctl edit); drop the directory if empty.
        run rmdir --ignore-fail-on-non-empty "$DROPIN_DIR"
    fi
    run rm -rf "$OPT"
    if systemd_running; then
        run systemctl daemon-reload
        run systemctl reset-failed "$APP.service" 2>/dev/null || true
    fi
    if [ "$PURGE" -eq 1 ]; then
        run rm -rf "$ETC" "$STATE" "$LOGS"
        if [ "$PREFIX_MODE" -eq 0 ] && getent passwd "$SERVICE_USER" >/dev/null; then
            run userdel "$SERVICE_USER"
        fi
        say "purged $ETC, $STATE and $LOGS"
    else
        say "kept $ETC and $STATE (--purge removes them)"
    fi
    say "uninstalled from ${ROOT:-/}"
}

main() {
    parse_args "$@"
    if [ "$PREFIX_MODE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
        die "run as root (sudo), or use --prefix DIR or --dry-run"
    fi
    case $ACTION in
        install) do_install ;;
        uninstall) do_uninstall ;;
    esac
}

main "$@"
