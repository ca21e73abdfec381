"""Doctor checks of the machine: Python and OS, TFLite runtime, camera, service.

Each function takes what it inspects as arguments with real defaults, so a
test can hand it a fake (an old Python, a missing runtime, no picamera2, a
device list, a ``systemctl`` that reports "failed").
"""

from __future__ import annotations

import fcntl
import importlib
import os
import platform
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camera_app.doctor import Check, fail, ok, warn
from camera_app.errors import CameraAppError

MIN_PYTHON = (3, 11)

VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
CAP_VIDEO_CAPTURE = 0x00000001
CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
CAP_VIDEO_M2M_MPLANE = 0x00004000
CAP_VIDEO_M2M = 0x00008000
CAP_DEVICE_CAPS = 0x80000000


def _first_line(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").replace("\0", "").strip().splitlines()[0]
    except (OSError, IndexError):
        return None


def os_description(etc: Path = Path("/etc"), proc: Path = Path("/proc")) -> str:
    """``Debian GNU/Linux 12 (bookworm), Linux 6.6 aarch64, Raspberry Pi 5 ...``."""
    parts = []
    try:
        release = (etc / "os-release").read_text()
        for line in release.splitlines():
            if line.startswith("PRETTY_NAME="):
                parts.append(line.partition("=")[2].strip().strip('"'))
    except OSError:
        pass
    parts.append(f"{platform.system()} {platform.release()} {platform.machine()}")
    model = _first_line(proc / "device-tree" / "model")
    if model:
        parts.append(model)
    return ", ".join(parts)


def check_python(
    version: Sequence[Any] = tuple(sys.version_info),
    system: str = platform.system(),
    describe: Callable[[], str] = os_description,
) -> Check:
    ver = ".".join(map(str, version[:3]))
    if tuple(version[:2]) < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return fail("python", f"Python {ver} is too old: camera-app needs {need} or newer")
    text = f"Python {ver} ({sys.executable}); {describe()}"
    if system != "Linux":
        return warn("python", f"{text}: not Linux, the camera and service checks do not apply")
    return ok("python", text)


def check_runtime(find: Callable[[], Any] | None = None) -> Check:
    """The TFLite interpreter package the models will run on."""
    from camera_app.inference.runtime import find_runtime

    try:
        rt = (find or find_runtime)()
    except CameraAppError as e:
        return fail("runtime", str(e))
    import numpy

    text = f"{rt.name} {rt.version} (numpy {numpy.__version__})"
    if rt.name == "tflite_runtime" and int(numpy.__version__.split(".")[0]) >= 2:
        return fail(
            "runtime", f"{text}: tflite-runtime is built for numpy 1.x; pip install 'numpy<2'"
        )
    if rt.name != "ai_edge_litert":
        return ok("runtime", f"{text}; ai-edge-litert is the maintained runtime")
    return ok("runtime", text)


@dataclass(frozen=True, slots=True)
class VideoDevice:
    """A /dev/video* node as this user sees it."""

    path: str
    name: str = "?"
    error: str | None = None
    """Why it cannot be opened (permission...), None when it opens."""
    capture: bool | None = None
    """Is a capture device (not a codec or ISP); None: unknown."""


def probe_video_devices(dev: Path = Path("/dev")) -> list[VideoDevice]:
    found = []
    nodes = sorted(dev.glob("video*"), key=lambda p: (len(p.name), p.name))
    for node in nodes:
        name = _first_line(Path("/sys/class/video4linux") / node.name / "name") or "?"
        try:
            fd = os.open(node, os.O_RDWR | os.O_NONBLOCK)
        except PermissionError:
            found.append(VideoDevice(str(node), name, _permission_hint(node)))
            continue
        except OSError as e:
            found.append(VideoDevice(str(node), name, e.strerror or str(e)))
            continue
        try:
            buf = bytearray(104)
            fcntl.ioctl(fd, VIDIOC_QUERYCAP, buf)
            caps, device_caps = struct.unpack_from("<II", buf, 84)
            c = device_caps if caps & CAP_DEVICE_CAPS else caps
            capture = bool(c & (CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE)) and not (
                c & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE)
            )
            found.append(VideoDevice(str(node), name, None, capture))
        except OSError:
            found.append(VideoDevice(str(node), name, None, None))
        finally:
            os.close(fd)
    return found


def _permission_hint(node: Path) -> str:
    import grp
    import pwd

    user = pwd.getpwuid(os.geteuid()).pw_name
    try:
        group = grp.getgrgid(node.stat().st_gid).gr_name
    except (OSError, KeyError):
        group = "video"
    return f"not readable by user {user} (sudo usermod -aG {group} {user}, then log in again)"


def _picamera2_cameras() -> tuple[list[dict[str, Any]] | None, str]:
    """(cameras, "") or (None, why picamera2 cannot say)."""
    try:
        mod = importlib.import_module("picamera2")
    except ImportError:
        return None, "picamera2 not installed (apt install python3-picamera2)"
    except Exception as e:  # apt's simplejpeg against pip's numpy 2, ...
        return None, f"picamera2 fails to import: {e}"
    try:
        return list(mod.Picamera2.global_camera_info()), ""
    except Exception as e:
        return None, f"picamera2 cannot list cameras: {e}"


def check_camera(
    source: str | None,
    picamera2: Callable[[], tuple[list[dict[str, Any]] | None, str]] | None = None,
    devices: Callable[[], list[VideoDevice]] | None = None,
) -> Check:
    """A camera for the configured source (any camera when no config).
    ``picamera2`` and ``devices`` default to the real probes."""
    from camera_app.sources import source_kind
    from camera_app.sources.opencv_live import device_index

    picamera2 = picamera2 or _picamera2_cameras
    devices = devices or probe_video_devices

    try:
        kind = source_kind(source) if source else None
    except CameraAppError as e:
        return fail("camera", f"source {source!r}: {e}")
    if kind in ("video", "images", "stream"):
        return ok(
            "camera",
            f"not needed: the source is {'a ' if kind != 'images' else ''}{kind} ({source})",
        )
    assert kind in (None, "picamera2", "v4l2")
    notes = []
    if kind in (None, "picamera2"):
        cams, why = picamera2()
        num = int(source.partition(":")[2] or 0) if kind == "picamera2" and source else 0
        if cams:
            names = ", ".join(f"{i}: {c.get('Model', '?')}" for i, c in enumerate(cams))
            if num < len(cams):
                return ok("camera", f"picamera2 finds {len(cams)} camera(s): {names}")
            return fail("camera", f"source {source}: no camera {num} (picamera2 finds {names})")
        notes.append(
            why or "picamera2 finds no camera (check the ribbon cable; rpicam-hello --list-cameras)"
        )
    found = devices()
    if kind == "v4l2":
        assert source is not None
        index = device_index(source)
        want = source if source.startswith("/dev/") else f"/dev/video{index}"
        dev = next((d for d in found if d.path == want), None)
        if dev is None:
            return fail("camera", f"source {source}: no {want}")
        if dev.error:
            return fail("camera", f"{want}: {dev.error}")
        if dev.capture is False:
            return fail("camera", f"{want} ({dev.name}) is not a capture device")
        return ok("camera", f"{want} ({dev.name}) opens")
    blocked = [d for d in found if d.error]
    usable = [d for d in found if not d.error and d.capture]
    if usable:
        return ok(
            "camera",
            "; ".join([*notes, "V4L2: " + ", ".join(f"{d.path} ({d.name})" for d in usable)]),
        )
    if blocked:
        return fail("camera", "; ".join([*notes, f"{blocked[0].path}: {blocked[0].error}"]))
    notes.append("no V4L2 capture device" if found else "no /dev/video* device")
    text = "no camera: " + "; ".join(notes)
    return fail("camera", text) if kind is not None else warn("camera", text)


def check_service(
    timeout_s: float = 5.0,
    systemd_dir: Path = Path("/run/systemd/system"),
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    unit: str = "camera-app",
) -> Check:
    """The systemd service's state, when systemd runs this machine."""
    if not systemd_dir.is_dir():
        return ok("service", "systemd is not running here: no service to check")
    systemctl = shutil.which("systemctl") or "systemctl"
    cmd = [systemctl, "show", unit, "--property=LoadState,ActiveState,SubState,StatusText"]
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return warn("service", f"systemctl did not answer within {timeout_s:g} s")
    except OSError as e:
        return warn("service", f"cannot run systemctl: {e.strerror or e}")
    props = dict(line.partition("=")[::2] for line in proc.stdout.splitlines() if "=" in line)
    load, active = props.get("LoadState", ""), props.get("ActiveState", "")
    status = props.get("StatusText", "")
    if proc.returncode != 0 or not load:
        why = (proc.stderr or proc.stdout).strip().splitlines()
        return warn("service", f"systemctl show {unit}: {why[0] if why else 'no answer'}")
    if load == "not-found":
        return warn("service", f"{unit}.service is not installed (sudo systemd/install.sh)")
    text = f"{unit}.service is {active} ({props.get('SubState', '?')})"
    if status:
        text += f": {status}"
    if active == "active":
        return ok("service", text)
    if active == "failed":
        return fail("service", f"{text}; see journalctl -u {unit} -n 50")
    if active == "inactive":
        return warn("service", f"{text}; start it: sudo systemctl start {unit}")
    return warn("service", text)
