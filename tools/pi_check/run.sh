#!/usr/bin/env bash
# The Pi check: install camera_app the way the README tells a Raspberry Pi
# owner to, on Raspberry Pi OS's bases (Debian Bookworm and Trixie, arm64),
# emulated with qemu-user, and compare its detections with x86's.
#
#   sudo tools/pi_check/run.sh [--suite bookworm|trixie]... [--keep]
#
# Run as root (debootstrap, chroot, binfmt_misc). Steps:
#   1. qemu-aarch64 10.x, statically linked, from Debian trixie's qemu-user
#      .deb (dpkg-deb -x), registered in /proc/sys/fs/binfmt_misc with the F
#      flag (the roots need no copy of it). Bookworm's qemu 7.2 will not do:
#      LiteRT segfaults in allocate_tensors under it.
#   2. x86 reference: systemd/install.sh --prefix DIR --with-venv, the
#      fixture model, check-config, detect and run on fixtures.
#   3. Per suite, in parallel: an arm64 root made with debootstrap (minbase
#      plus what Raspberry Pi OS Lite has: systemd, python3, sudo, a user pi
#      with password-less sudo), then tools/pi_check/suite.sh: the installer
#      twice, systemd-analyze verify, check-config, doctor, detect and run
#      with QEMU_CPU=cortex-a72 (Pi 4) and cortex-a76 (Pi 5); the README's
#      by-hand commands in a second fresh root.
#   4. The emulated detections against x86's (compare.py): same labels,
#      boxes within a few pixels, scores close.
# The last line says OK or why not; the exit status is 0 only for OK.
#
# Environment:
#   PI_CHECK_CACHE=DIR     keep the qemu binary, the base roots (tarballs,
#                          rebuilt after PI_CHECK_CACHE_DAYS, default 14) and
#                          apt/pip downloads in DIR; absent: all rebuilt
#   CAMERA_APP_FIXTURES    the shared fixtures (default: ../shared/fixtures)
#   PI_CHECK_X86_PYTHON    python for the x86 reference venv (default: .venv's)
#   PI_CHECK_MIRROR        Debian mirror (default: http://deb.debian.org/debian)
#   PI_CHECK_WORK          work directory (default: a new one in /var/tmp),
#                          removed at the end unless --keep
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SUITES=()
KEEP=0
CPUS="cortex-a72 cortex-a76"
# The installer's default model (`camera-app models list`) and its files.
MODEL_NAME=coco-ssd-mobilenet-v1
MODEL_FILE=ssd_mobilenet_v1_coco_quant.tflite
LABELS_FILE=coco_labels.txt
MIRROR=${PI_CHECK_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${PI_CHECK_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
FIXTURES=${CAMERA_APP_FIXTURES:-$REPO/../shared/fixtures}
CACHE=${PI_CHECK_CACHE:-}
CACHE_DAYS=${PI_CHECK_CACHE_DAYS:-14}
X86_PYTHON=${PI_CHECK_X86_PYTHON:-$REPO/.venv/bin/python}
# What Raspberry Pi OS Lite has that a Debian minbase lacks and the install
# relies on (python3-venv and python3-numpy are the installer's to add).
BASE_PACKAGES=systemd,systemd-sysv,ca-certificates,python3,sudo
BINFMT=${PI_CHECK_BINFMT:-/proc/sys/fs/binfmt_misc} # tests point it elsewhere
ENTRY=pi-check-aarch64
# ELF 64-bit little-endian, machine 0xb7 (aarch64): Debian's qemu-aarch64.conf.
MAGIC='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

STARTED=$SECONDS
FAILURE=""
REGISTERED=0
WORK=""
COLD=0
JOBS=()

log() { printf '%s\n' "$*"; }
# prefix NAME: each line of stdin with the time and NAME.
prefix() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%(%H:%M:%S)T [%s] %s\n' -1 "$1" "$line"
    done
}
fail() {
    FAILURE=$*
    exit 1
}
duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --suite)
                [ $# -ge 2 ] || fail "--suite needs bookworm or trixie"
                case $2 in bookworm | trixie) SUITES+=("$2") ;; *) fail "--suite: bookworm or trixie, not $2" ;; esac
                shift
                ;;
            --keep) KEEP=1 ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) fail "unknown option $1 (see --help)" ;;
        esac
        shift
    done
    [ ${#SUITES[@]} -gt 0 ] || SUITES=(bookworm trixie)
}

# No mount may remain under the work directory before it is deleted.
mounts_under() {
    awk -v dir="$1/" 'index($2 "/", dir) == 1 { print $2 }' /proc/self/mounts
}

safe_remove() {
    local dir=$1
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    if [ -n "$(mounts_under "$dir")" ]; then
        log "pi-check: not removing $dir: still mounted: $(mounts_under "$dir" | head -n 3 | tr '\n' ' ')"
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

# kill_tree PID: the process and everything it started, children first.
kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        kill_tree "$child"
    done
    kill "$1" 2>/dev/null || true
}

on_exit() {
    local rc=$? pid
    trap - EXIT
    for pid in "${JOBS[@]}"; do
        kill_tree "$pid"
    done
    wait 2>/dev/null || true
    if [ "$REGISTERED" -eq 1 ] && [ -e "$BINFMT/$ENTRY" ]; then
        echo -1 >"$BINFMT/$ENTRY" || true
    fi
    if [ -n "$WORK" ]; then
        if [ "$KEEP" -eq 1 ]; then
            log "pi-check: kept $WORK"
        else
            safe_remove "$WORK" || true
        fi
    fi
    local took
    took=$(duration $((SECONDS - STARTED)))
    if [ "$rc" -eq 0 ] && [ -z "$FAILURE" ]; then
        log "pi-check: OK in $took ($([ "$COLD" -eq 1 ] && echo cold || echo cached))"
    else
        log "pi-check: FAILED after $took: ${FAILURE:-exit $rc (unexpected; see above)}"
        exit 1
    fi
}

preflight() {
    [ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot and binfmt_misc need it)"
    [ -f "$FIXTURES/models/$MODEL_FILE" ] ||
        fail "fixtures missing: $FIXTURES (set CAMERA_APP_FIXTURES)"
    [ -x "$X86_PYTHON" ] || fail "no python for the x86 reference: $X86_PYTHON (make venv, or set PI_CHECK_X86_PYTHON)"
    local tool missing=()
    for tool in debootstrap dpkg-deb apt-get unshare chroot tar python3; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ "${missing[*]}" = debootstrap ]; then
        log "pi-check: installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
            >/dev/null || fail "apt-get could not install debootstrap"
    elif [ ${#missing[@]} -gt 0 ]; then
        fail "missing on this machine: ${missing[*]} (apt-get install debootstrap dpkg util-linux tar python3)"
    fi
    [ "$(dpkg --print-architecture)" = amd64 ] ||
        fail "the host is $(dpkg --print-architecture): this check emulates arm64 on amd64 only"
    WORK=${PI_CHECK_WORK:-$(mktemp -d /var/tmp/pi-check.XXXXXX)}
    mkdir -p "$WORK/results" "$WORK/src"
    # One snapshot of the checkout for every run (others may edit it meanwhile),
    # as a user would have it: no venvs, caches, build output or .git.
    tar -C "$REPO" --exclude=./.git --exclude='./.venv*' --exclude=./out \
        --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
        --exclude='./models/*.tflite' --exclude='./models/*.mp4' -cf - . | tar -C "$WORK/src" -xf -
    SRC=$WORK/src
    if [ -n "$CACHE" ]; then
        mkdir -p "$CACHE"
        CACHE=$(cd "$CACHE" && pwd)
        # Retention: pip's downloads older than 30 days go (re-fetched if needed).
        find "$CACHE" -path '*/pip-*' -type f -mtime +30 -delete 2>/dev/null || true
    fi
    log "pi-check: repo $REPO, fixtures $FIXTURES, work $WORK, cache ${CACHE:-none}"
}

# qemu-aarch64 from Debian trixie's qemu-user (10.x, static), by apt-get with
# a private configuration: the host's sources are left alone.
fetch_qemu() {
    local dir=${CACHE:+$CACHE/qemu}
    dir=${dir:-$WORK/qemu}
    QEMU=$dir/qemu-aarch64
    if [ -x "$QEMU" ] && [ -z "$(find "$QEMU" -mtime "+$CACHE_DAYS")" ]; then
        log "qemu: $(cat "$dir/VERSION") (cached)"
        return
    fi
    local apt=$WORK/apt-trixie-amd64
    mkdir -p "$dir" "$apt/etc/apt.conf.d" "$apt/etc/preferences.d" "$apt/etc/sources.list.d" \
        "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
    echo "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
        >"$apt/etc/sources.list"
    local opts=(-o "Dir::Etc=$apt/etc" -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o Dir::State::status=/dev/null -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq >/dev/null || fail "apt-get update for trixie's qemu-user failed"
    (cd "$apt/deb" && apt-get "${opts[@]}" download -qq qemu-user >/dev/null) ||
        fail "apt-get download qemu-user (trixie) failed"
    local deb
    deb=$(ls "$apt/deb"/qemu-user_*.deb)
    dpkg-deb -x "$deb" "$apt/x"
    install -m 0755 "$apt/x/usr/bin/qemu-aarch64" "$QEMU.new"
    mv -f "$QEMU.new" "$QEMU"
    echo "qemu-user $(dpkg-deb -f "$deb" Version) from trixie" >"$dir/VERSION"
    rm -rf "$apt"
    log "qemu: $(cat "$dir/VERSION") ($("$QEMU" --version | head -n 1))"
}

# binfmt_misc mounted and enabled, or a one-line reason why it cannot be.
check_binfmt() {
    if [ ! -e "$BINFMT/register" ]; then
        [ -d "$BINFMT" ] ||
            fail "binfmt_misc: no $BINFMT (kernel without binfmt_misc): arm64 programs cannot run here"
        local err
        err=$(mount -t binfmt_misc binfmt_misc "$BINFMT" 2>&1) ||
            fail "binfmt_misc cannot be mounted on $BINFMT (${err:-no reason given}; an unprivileged container?): arm64 programs cannot run here"
    fi
    [ "$(cat "$BINFMT/status")" = enabled ] ||
        fail "binfmt_misc is disabled ($BINFMT/status): arm64 programs cannot run here"
}

register_binfmt() {
    [ ! -e "$BINFMT/$ENTRY" ] || echo -1 >"$BINFMT/$ENTRY"
    # F: the kernel opens qemu now, so it runs inside any root. P: argv[0]
    # is kept. C: setuid programs (sudo) get their owner's rights, as on a
    # Pi. The newest entry wins over older aarch64 ones (e.g. a qemu 7.2
    # from Bookworm's qemu-user-static, which LiteRT crashes under).
    printf ':%s:M::%s:%s:%s:FPC' "$ENTRY" "$MAGIC" "$MASK" "$QEMU" >"$BINFMT/register" ||
        fail "binfmt_misc refused the qemu-aarch64 entry: arm64 programs cannot run here"
    REGISTERED=1
    grep -q '^flags: .*F' "$BINFMT/$ENTRY" ||
        fail "binfmt_misc did not keep the F flag for $ENTRY: the roots cannot find qemu"
    grep -q '^flags: .*C' "$BINFMT/$ENTRY" ||
        fail "binfmt_misc did not keep the C flag for $ENTRY: sudo cannot work in the roots"
    log "binfmt_misc: $ENTRY -> $QEMU ($(sed -n 's/^flags: //p' "$BINFMT/$ENTRY"))"
}

# base_root SUITE: the suite's arm64 root as a tarball, from the cache when
# it is there and fresh, else debootstrapped; its path goes in
# $WORK/base-SUITE.path.
base_root() {
    local suite=$1 dir tarball key build
    dir=${CACHE:+$CACHE/roots}
    dir=${dir:-$WORK/roots}
    mkdir -p "$dir"
    tarball=$dir/$suite-arm64.tar
    key="$suite arm64 minbase $BASE_PACKAGES $MIRROR $SECURITY_MIRROR user-pi host-cas v2"
    if [ -n "$CACHE" ] && [ -f "$tarball" ] && [ "$(cat "$tarball.key" 2>/dev/null)" = "$key" ] &&
        [ -z "$(find "$tarball" -mtime "+$CACHE_DAYS")" ]; then
        log "root: cached $tarball ($(date -r "$tarball" +%F))"
        printf '%s\n' "$tarball" >"$WORK/base-$suite.path"
        return
    fi
    build=$WORK/debootstrap-$suite
    local start=$SECONDS
    log "root: debootstrap $suite arm64 (minbase + $BASE_PACKAGES)"
    # shellcheck disable=SC2016 # $1.. expand in the inner bash
    if ! unshare --mount --propagation private bash -c '
            debootstrap --arch=arm64 --variant=minbase --include="$1" "$2" "$3" "$4" >"$5" 2>&1' \
        _ "$BASE_PACKAGES" "$suite" "$build" "$MIRROR" "$WORK/debootstrap-$suite.log"; then
        tail -n 15 "$WORK/debootstrap-$suite.log"
        echo "$suite: debootstrap failed (see above)" >"$WORK/failure-$suite"
        return 1
    fi
    setup_base "$build" "$suite"
    tar -C "$build" --numeric-owner -cf "$tarball.new" .
    mv -f "$tarball.new" "$tarball"
    printf '%s\n' "$key" >"$tarball.key"
    safe_remove "$build"
    log "root: $suite built in $(duration $((SECONDS - start)))"
    printf '%s\n' "$tarball" >"$WORK/base-$suite.path"
}

# What a Raspberry Pi OS Lite image adds to Debian: the updates and security
# archives, a host name, a first user with password-less sudo.
setup_base() {
    local root=$1 suite=$2
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
EOF
    echo raspberrypi >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
        >"$root/etc/hosts"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" useradd --create-home --uid 1000 \
        --shell /bin/bash --groups sudo,video pi
    echo 'pi ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/010_pi-nopasswd"
    chmod 0440 "$root/etc/sudoers.d/010_pi-nopasswd"
    host_cas "$root"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" apt-get clean
}

# host_cas ROOT: the host's own CAs (e.g. a proxy's) in the root's bundle,
# for pip and apt over TLS, as a Pi with a local CA would have them.
host_cas() {
    local root=$1 ca changed=0
    for ca in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$ca" ] || continue
        if ! cmp -s "$ca" "$root/usr/local/share/ca-certificates/${ca##*/}"; then
            cp "$ca" "$root/usr/local/share/ca-certificates/"
            changed=1
        fi
    done
    [ "$changed" -eq 0 ] || env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" \
        update-ca-certificates 2>&1 | grep -v 'skipping ca-certificates.crt' || true
}

# The x86 run every emulated one is compared with, and issue 16's check: a
# --prefix --with-venv tree whose config passes check-config once a model is
# there, and whose `run --config` runs on a fixture clip.
x86_reference() {
    local tree=$WORK/x86 start=$SECONDS
    x86_failure() {
        echo "x86: $*" >"$WORK/failure-x86"
        return 1
    }
    PYTHON=$X86_PYTHON bash "$SRC/systemd/install.sh" --prefix "$tree" --with-venv --source "$SRC" ||
        x86_failure "install.sh --prefix --with-venv failed" || return 1
    local cli=$tree/opt/camera-app/venv/bin/camera-app models=$tree/var/lib/camera-app/models
    if [ ! -f "$models/$MODEL_FILE" ]; then
        log "model: not pulled (its host is out of reach here): copied from the fixtures"
        cp "$FIXTURES/models/$MODEL_FILE" "$FIXTURES/models/$LABELS_FILE" "$models/"
    fi
    "$cli" check-config "$tree/etc/camera-app/camera-app.toml" ||
        x86_failure "check-config of the --prefix tree failed" || return 1
    "$cli" detect --json --labels "$models/$LABELS_FILE" "$models/$MODEL_FILE" "$IMAGE" \
        >"$WORK/results/x86-detect.jsonl" || x86_failure "detect failed" || return 1
    "$cli" run --config "$tree/etc/camera-app/camera-app.toml" --source "$CLIP" --max-frames 30 \
        --jsonl "$WORK/results/x86-run.jsonl" ||
        x86_failure "run --config of the --prefix tree failed" || return 1
    "$tree/opt/camera-app/venv/bin/python" "$SRC/tools/pi_check/versions.py" \
        >"$WORK/results/x86-versions.txt"
    log "x86: $(cat "$WORK/results/x86-versions.txt") in $(duration $((SECONDS - start)))"
}

# suite SUITE: base root, then suite.sh in its own mount namespace.
run_suite() {
    local suite=$1 start=$SECONDS base
    # A subshell of its own, waited for, so that set -e holds inside.
    (base_root "$suite") &
    if ! wait $!; then
        [ -f "$WORK/failure-$suite" ] || echo "$suite: building its root failed" >"$WORK/failure-$suite"
        return 1
    fi
    base=$(cat "$WORK/base-$suite.path")
    mkdir -p "$WORK/$suite"
    env PI_SUITE="$suite" PI_BASE="$base" PI_WORK="$WORK/$suite" PI_RESULTS="$WORK/results" \
        PI_REPO="$SRC" PI_FIXTURES="$FIXTURES" PI_CPUS="$CPUS" PI_MODEL="$MODEL_NAME" \
        PI_MODEL_FILE="$MODEL_FILE" PI_LABELS_FILE="$LABELS_FILE" \
        PI_CLIP="$CLIP" PI_IMAGE="$IMAGE" PI_CACHE="$CACHE" \
        unshare --mount --uts --propagation private bash "$SRC/tools/pi_check/suite.sh" || {
        [ -f "$WORK/$suite/failure" ] || echo "$suite: suite.sh failed" >"$WORK/$suite/failure"
        cp "$WORK/$suite/failure" "$WORK/failure-$suite"
        return 1
    }
    log "$suite: all steps passed in $(duration $((SECONDS - start)))"
}

compare_all() {
    local suite cpu kind bad=0 name
    log "=== detections against x86 (labels equal, boxes within 4 px, scores within 0.03)"
    for suite in "${SUITES[@]}"; do
        for cpu in $CPUS; do
            for kind in installer-detect installer-run byhand-detect; do
                name="$suite ${kind%-*} $cpu ${kind#*-}"
                python3 "$SRC/tools/pi_check/compare.py" --threshold 0.5 --name "$name" \
                    "$WORK/results/x86-${kind#*-}.jsonl" \
                    "$WORK/results/$suite-${kind%-*}-$cpu-${kind#*-}.jsonl" ||
                    bad=$((bad + 1))
            done
        done
    done
    [ "$bad" -eq 0 ] || fail "$bad emulated output(s) differ from x86's or are missing (see the comparison above)"
}

report_versions() {
    local suite kind
    log "=== versions"
    log "x86:                $(cat "$WORK/results/x86-versions.txt")"
    for suite in "${SUITES[@]}"; do
        for kind in installer byhand; do
            printf '%-20s%s\n' "$suite $kind:" "$(cat "$WORK/results/$suite-$kind-versions.txt")"
        done
    done
}

main() {
    trap on_exit EXIT
    parse_args "$@"
    preflight
    IMAGE=$FIXTURES/images/kite_and_cold.jpg
    CLIP=$FIXTURES/videos/bottle-detection.mp4
    check_binfmt
    fetch_qemu
    register_binfmt
    local suite
    for suite in "${SUITES[@]}"; do
        if [ -z "$CACHE" ] || [ ! -f "$CACHE/roots/$suite-arm64.tar" ]; then
            COLD=1
        fi
        (run_suite "$suite" 2>&1 | prefix "$suite") &
        JOBS+=($!)
    done
    (x86_reference 2>&1 | prefix x86) &
    JOBS+=($!)
    local pid failed=0
    for pid in "${JOBS[@]}"; do
        wait "$pid" || failed=1
    done
    JOBS=()
    if compgen -G "$WORK/failure-*" >/dev/null; then
        fail "$(cat "$WORK"/failure-* | paste -sd ';' -)"
    fi
    [ "$failed" -eq 0 ] || fail "a step failed without saying why (see above)"
    report_versions
    compare_all
}

main "$@"
