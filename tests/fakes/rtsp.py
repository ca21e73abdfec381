"""Start and kill a real RTSP server on loopback for tests (``rtsp_server.py`` beside this).

Tests put ``tests/fakes`` on ``sys.path`` and ``from rtsp import RtspServer``.
The server is GStreamer's gst-rtsp-server run by the system Python (Debian:
``gir1.2-gst-rtsp-server-1.0``, ``gstreamer1.0-plugins-good``,
``gstreamer1.0-plugins-bad``); :func:`rtsp_server_available` says whether
those are installed. ``kill()`` ends the process (every connection drops);
``RtspServer(file, port=server.port)`` brings one back on the same port.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType

SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def rtsp_server_available() -> str | None:
    """None when the server can run here, else what is missing."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
            "assert Gst.ElementFactory.find('qtdemux') and Gst.ElementFactory.find('rtph264pay')",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return (
            "GStreamer's RTSP server is not installed (apt install gir1.2-gst-rtsp-server-1.0 "
            f"gstreamer1.0-plugins-good gstreamer1.0-plugins-bad): {probe.stderr.strip()[-200:]}"
        )
    return None


class RtspServer:
    """Serves ``file`` at ``rtsp://127.0.0.1:PORT/cam`` (each client from the file's start)."""

    def __init__(
        self,
        file: Path,
        port: int = 0,
        codec: str = "h264",
        config_interval: int = -1,
        max_seconds: float = 120.0,
        ready_timeout_s: float = 15.0,
    ) -> None:
        if shutil.which(SYSTEM_PYTHON) is None:
            raise RuntimeError(f"{SYSTEM_PYTHON} is missing")
        self.proc = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(SCRIPT),
                "--file",
                str(file),
                "--port",
                str(port),
                "--codec",
                codec,
                "--config-interval",
                str(config_interval),
                "--max-seconds",
                str(max_seconds),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self.proc.stdout.readline() if self.proc.stdout else ""),
            daemon=True,
        )
        reader.start()
        reader.join(ready_timeout_s)
        if not line or not line[0].startswith("ready "):
            self.kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the RTSP server did not start: {line} {err[-500:]}")
        self.port = int(line[0].split()[1])
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"

    def kill(self) -> None:
        """End the server at once: every client's connection drops."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self) -> RtspServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
