"""A real RTSP server on loopback for tests: GStreamer's gst-rtsp-server serving a video file.

Runs under the system Python (``/usr/bin/python3``, which has PyGObject), not
the venv: Debian packages ``gir1.2-gst-rtsp-server-1.0``,
``gstreamer1.0-plugins-good`` and ``gstreamer1.0-plugins-bad``. Each client
gets its own pipeline that plays the file from its start in real time (the
file's own packets, payloaded as RTP with ``rtph264pay``/``rtph265pay``:
no decoding, no re-encoding). With ``--config-interval -1`` (the default)
SPS/PPS are also sent in band before every key frame, as IP cameras do.
H.265 goes through ``h265parse`` (which repacks, it does not re-encode).

Prints ``ready PORT`` on stdout once it listens; exits by itself after
``--max-seconds`` (the test may kill it earlier). FFmpeg cannot serve RTSP
to clients that pull (its ``-rtsp_flags listen`` is for receiving a push).
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--config-interval", type=int, default=-1)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    Gst.init(None)
    demux = "matroskademux" if args.file.endswith((".mkv", ".webm")) else "qtdemux"
    # rtph264pay takes qtdemux's avc caps as they are; rtph265pay wants h265parse first.
    pay = "rtph264pay" if args.codec == "h264" else "h265parse ! rtph265pay"
    launch = (
        f'( filesrc location="{args.file}" ! {demux} ! queue ! '
        f"{pay} name=pay0 pt=96 config-interval={args.config_interval} )"
    )
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.timeout_add(int(args.max_seconds * 1000), loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f"ready {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
