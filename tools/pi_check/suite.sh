#!/usr/bin/env bash
# One suite of the Pi check (bookworm or trixie), started by run.sh inside
# private mount and UTS namespaces (unshare --mount --uts): every mount made
# here vanishes with them, so the roots can be deleted safely afterwards.
#
# In two fresh copies of the suite's arm64 root:
#   installer/  ~pi/camera_app, then `sudo ./systemd/install.sh` twice (the
#               second run must change nothing), systemd-analyze verify,
#               check-config (and doctor when there is one) as the service
#               user, detect and run with QEMU_CPU per Pi model
#   by-hand/    the README's by-hand commands (by_hand.sh) as pi, then
#               detect with QEMU_CPU per Pi model
# Results go to $PI_RESULTS/$PI_SUITE-*; run.sh compares them with x86's.
# On failure: one line in $PI_WORK/failure, exit 1.
#
# Environment (set by run.sh): PI_SUITE PI_BASE (root tarball) PI_WORK
# PI_RESULTS PI_REPO PI_FIXTURES PI_CPUS PI_MODEL (its catalogue name)
# PI_MODEL_FILE PI_LABELS_FILE PI_CLIP PI_IMAGE PI_CACHE (optional)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=$PI_SUITE
MODELS=/var/lib/camera-app/models
MODEL_FILE=$PI_MODEL_FILE
LABELS_FILE=$PI_LABELS_FILE
VENV_CLI=/opt/camera-app/venv/bin/camera-app
IN=/tmp/pi-check # fixture inputs inside the root
PATH_IN_ROOT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '%s\n' "$*"; }
fail() {
    # The first reason stays: a step that fails after a failure inside it
    # does not hide that.
    [ -f "$PI_WORK/failure" ] || printf '%s: %s\n' "$SUITE" "$*" >"$PI_WORK/failure"
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# step NAME CMD...: run, log its duration, fail with NAME when it fails.
# The command runs in a subshell of its own, waited for: set -e holds inside
# it (it would not in a function called as `f || ...`).
step() {
    local name=$1 start=$SECONDS rc=0
    shift
    log "--- $name"
    ("$@") &
    wait $! || rc=$?
    log "--- $name: $((SECONDS - start)) s$([ "$rc" -eq 0 ] || echo ", exit $rc")"
    [ "$rc" -eq 0 ] || fail "$name failed (exit $rc)"
}

# in_root ROOT [VAR=value...] CMD...: a command in the root with a clean
# environment (the host's PIP_* and friends must not leak in).
in_root() {
    local root=$1
    shift
    env -i PATH="$PATH_IN_ROOT" HOME=/root LANG=C.UTF-8 TERM=dumb chroot "$root" env "$@"
}

# as_user ROOT USER [VAR=value...] CMD...
as_user() {
    local root=$1 user=$2
    shift 2
    env -i PATH="$PATH_IN_ROOT" LANG=C.UTF-8 TERM=dumb chroot "$root" runuser -u "$user" -- env "$@"
}

# as_pi ROOT QEMU_CPU 'shell command': in ~pi/camera_app, as a login would.
as_pi() {
    local root=$1 cpu=$2 command=$3
    as_user "$root" pi HOME=/home/pi USER=pi LOGNAME=pi PATH=/usr/local/bin:/usr/bin:/bin \
        QEMU_CPU="$cpu" bash -c "cd ~/camera_app && $command"
}

make_root() {
    local root=$1
    mkdir -p "$root"
    tar -C "$root" --numeric-owner -xf "$PI_BASE"
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    mkdir -p "$root/dev/shm" "$root/dev/pts"
    mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
    mount -t tmpfs -o mode=0755,size=64m tmpfs "$root/run"
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    # The host's own CAs (e.g. a proxy's) for pip and apt over TLS: in the
    # base root already; the bundle is rebuilt only if they changed since.
    local ca changed=0
    for ca in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$ca" ] || continue
        if ! cmp -s "$ca" "$root/usr/local/share/ca-certificates/${ca##*/}"; then
            cp "$ca" "$root/usr/local/share/ca-certificates/"
            changed=1
        fi
    done
    if [ "$changed" -eq 1 ]; then
        in_root "$root" update-ca-certificates 2>&1 | grep -v 'skipping ca-certificates.crt' || true
    fi
    if [ -n "${PI_CACHE:-}" ]; then
        # Downloads only: apt's .debs and pip's wheels, per suite and user.
        local dir
        for dir in "apt-$SUITE/partial" "pip-$SUITE-root" "pip-$SUITE-pi"; do
            mkdir -p "$PI_CACHE/$dir"
        done
        chown -R 1000:1000 "$PI_CACHE/pip-$SUITE-pi"
        mkdir -p "$root/root/.cache/pip" "$root/home/pi/.cache/pip"
        chown 1000:1000 "$root/home/pi/.cache" "$root/home/pi/.cache/pip"
        mount --bind "$PI_CACHE/apt-$SUITE" "$root/var/cache/apt/archives"
        mount --bind "$PI_CACHE/pip-$SUITE-root" "$root/root/.cache/pip"
        mount --bind "$PI_CACHE/pip-$SUITE-pi" "$root/home/pi/.cache/pip"
    fi
    # The checkout, as the user would have it (no venvs, caches, or .git).
    mkdir -p "$root/home/pi/camera_app"
    tar -C "$PI_REPO" --exclude=./.git --exclude='./.venv*' --exclude=./out \
        --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
        --exclude='./models/*.tflite' --exclude='./models/*.mp4' -cf - . |
        tar -C "$root/home/pi/camera_app" -xf -
    chown -R 1000:1000 "$root/home/pi/camera_app"
    mkdir -p "$root$IN"
    cp "$PI_FIXTURES/models/$MODEL_FILE" "$PI_FIXTURES/models/$LABELS_FILE" \
        "$PI_IMAGE" "$PI_CLIP" "$HERE/versions.py" "$root$IN/"
    chmod -R a+rX "$root$IN"
}

# Every path the installer owns, with type, mode, owner, link target and a
# checksum of each file's content (mtimes left out).
installed_tree() {
    local root=$1 paths=() path
    for path in opt/camera-app etc/camera-app var/lib/camera-app var/log/camera-app \
        etc/systemd/system/camera-app.service etc/systemd/system/camera-app.service.d \
        etc/systemd/system/multi-user.target.wants/camera-app.service; do
        if [ -e "$root/$path" ] || [ -L "$root/$path" ]; then
            paths+=("$path")
        fi
    done
    (
        cd "$root"
        find "${paths[@]}" -printf '%p %y %m %U:%G %l\n' | LC_ALL=C sort
        find "${paths[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
        grep -h '^camera-app:' etc/passwd etc/group
    )
}

run_installer() {
    as_pi "$1" cortex-a72 'sudo ./systemd/install.sh' 2>&1
}

installer_twice() {
    local root=$1
    step "installer, first run" run_installer "$root"
    installed_tree "$root" >"$PI_WORK/tree-1.txt"
    step "installer, second run" run_installer "$root"
    installed_tree "$root" >"$PI_WORK/tree-2.txt"
    if ! diff -u "$PI_WORK/tree-1.txt" "$PI_WORK/tree-2.txt" >"$PI_WORK/tree.diff"; then
        head -n 40 "$PI_WORK/tree.diff"
        fail "the installer's second run changed the installed tree (see the diff above)"
    fi
    log "installer: the second run changed nothing ($(grep -c '' "$PI_WORK/tree-1.txt") entries," \
        "tree sha256 $(sha256sum <"$PI_WORK/tree-1.txt" | cut -c 1-16))"
}

verify_unit() {
    local root=$1
    in_root "$root" systemd-analyze verify /etc/systemd/system/camera-app.service 2>&1
}

# The model the installer pulls; without internet access to its host it is
# not there, and goes in the way the config's comment says.
model_in_place() {
    local root=$1
    if [ -f "$root$MODELS/$MODEL_FILE" ]; then
        log "model: pulled by the installer"
        return
    fi
    log "model: not pulled (its host is out of reach here): installed from the fixtures"
    in_root "$root" install -m 0644 -o camera-app -g camera-app \
        "$IN/$MODEL_FILE" "$IN/$LABELS_FILE" "$MODELS/"
}

check_config() {
    local root=$1
    as_user "$root" camera-app HOME=/var/lib/camera-app QEMU_CPU=cortex-a72 \
        "$VENV_CLI" check-config /etc/camera-app/camera-app.toml 2>&1
}

doctor() {
    local root=$1 rc=0 out
    out=$(as_user "$root" camera-app HOME=/var/lib/camera-app QEMU_CPU=cortex-a72 \
        "$VENV_CLI" doctor --config /etc/camera-app/camera-app.toml 2>&1) || rc=$?
    if [ "$rc" -eq 2 ] && grep -q "invalid choice: 'doctor'" <<<"$out"; then
        log "doctor: not in this camera-app yet: skipped"
        return 0
    fi
    printf '%s\n' "$out"
    # No camera in a chroot: FAIL lines (exit 1) are expected; a crash is not.
    if [ "$rc" -gt 1 ] || grep -q '^Traceback' <<<"$out"; then
        return 1
    fi
}

versions() {
    local root=$1 python=$2
    in_root "$root" QEMU_CPU=cortex-a72 "$python" "$IN/versions.py"
}

detect_and_run() {
    local root=$1 cpu=$2 part
    part=$(in_root "$root" QEMU_CPU="$cpu" grep -m 1 'CPU part' /proc/cpuinfo) ||
        fail "no emulated /proc/cpuinfo under QEMU_CPU=$cpu: is an older qemu registered?"
    log "QEMU_CPU=$cpu: $part"
    as_user "$root" camera-app HOME=/var/lib/camera-app QEMU_CPU="$cpu" "$VENV_CLI" detect --json \
        --labels "$MODELS/$LABELS_FILE" "$MODELS/$MODEL_FILE" "$IN/$(basename "$PI_IMAGE")" \
        >"$PI_RESULTS/$SUITE-installer-$cpu-detect.jsonl"
    as_user "$root" camera-app HOME=/var/lib/camera-app QEMU_CPU="$cpu" "$VENV_CLI" run \
        --config /etc/camera-app/camera-app.toml --source "$IN/$(basename "$PI_CLIP")" \
        --max-frames 30 --jsonl "/var/lib/camera-app/pi-check-$cpu.jsonl" 2>&1
    cp "$root/var/lib/camera-app/pi-check-$cpu.jsonl" "$PI_RESULTS/$SUITE-installer-$cpu-run.jsonl"
}

installer_root() {
    local root=$PI_WORK/installer cpu
    step "root for the installer" make_root "$root"
    installer_twice "$root"
    step "systemd-analyze verify" verify_unit "$root"
    step "model" model_in_place "$root"
    step "check-config as camera-app" check_config "$root"
    step "doctor" doctor "$root"
    for cpu in $PI_CPUS; do
        step "detect and run, QEMU_CPU=$cpu" detect_and_run "$root" "$cpu"
    done
    versions "$root" /opt/camera-app/venv/bin/python >"$PI_RESULTS/$SUITE-installer-versions.txt"
}

by_hand() {
    local root=$1
    # python3-picamera2 is in Raspberry Pi's archive only.
    grep -v -e '^#' -e 'python3-picamera2' "$HERE/by_hand.sh" >"$root$IN/by_hand.sh"
    log "skipped (not in Debian): $(grep -v '^#' "$HERE/by_hand.sh" | grep 'python3-picamera2')"
    as_pi "$root" cortex-a72 "bash -e -x $IN/by_hand.sh" 2>&1
}

by_hand_model() {
    local root=$1
    if as_pi "$root" cortex-a72 ".venv/bin/camera-app models pull ${PI_MODEL} --dest models" 2>&1; then
        return
    fi
    log "model: not pulled (its host is out of reach here): copied from the fixtures"
    as_pi "$root" cortex-a72 "cp $IN/$MODEL_FILE $IN/$LABELS_FILE models/"
}

by_hand_detect() {
    local root=$1 cpu=$2
    as_pi "$root" "$cpu" ".venv/bin/camera-app detect --json --labels models/$LABELS_FILE \
        models/$MODEL_FILE $IN/$(basename "$PI_IMAGE")" >"$PI_RESULTS/$SUITE-byhand-$cpu-detect.jsonl"
}

by_hand_root() {
    local root=$PI_WORK/by-hand cpu
    step "root for the by-hand install" make_root "$root"
    step "by-hand install (README)" by_hand "$root"
    step "by-hand model" by_hand_model "$root"
    for cpu in $PI_CPUS; do
        step "by-hand detect, QEMU_CPU=$cpu" by_hand_detect "$root" "$cpu"
    done
    versions "$root" /home/pi/camera_app/.venv/bin/python >"$PI_RESULTS/$SUITE-byhand-versions.txt"
}

main() {
    # Our own UTS namespace (run.sh): the Pi's host name, which sudo resolves.
    if [ "$(readlink /proc/self/ns/uts)" != "$(readlink /proc/1/ns/uts)" ]; then
        hostname raspberrypi
    fi
    log "$SUITE: $(tar -xOf "$PI_BASE" ./etc/debian_version 2>/dev/null || echo '?') (Debian)"
    installer_root
    by_hand_root
    if [ -n "${PI_CACHE:-}" ]; then
        # Keep only the .debs still current (the cache's retention rule).
        in_root "$PI_WORK/by-hand" apt-get autoclean -qq || true
    fi
    log "$SUITE: done"
}

main "$@"
