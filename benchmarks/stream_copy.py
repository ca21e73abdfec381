#!/usr/bin/env python3
"""CPU per frame of recording a network camera's H.264: stream copy vs re-encoding.

    .venv/bin/python benchmarks/stream_copy.py                 # the fixture clip, 3 runs
    .venv/bin/python benchmarks/stream_copy.py --frames 600 --runs 5 --json
    .venv/bin/python benchmarks/stream_copy.py --rtsp          # through a loopback RTSP server

Both paths decode every packet once, as the source must for inference:

* ``copy``: decode + the packets themselves muxed into an MP4 (what
  ``AvStreamSource`` and the clip writers do: no encoder opened);
* ``re-encode``: decode + conversion to BGR + libx264 (the project's
  ``SegmentedRecorder``, preset ultrafast, as the software recording path
  does with decoded frames).

``decode`` alone is printed as the floor. File mode (default) demuxes the
packets of ``one-by-one-person-detection.mp4`` (H.264 768x432, B-frames)
ahead, untimed, and times each path over the same packets. ``--rtsp`` serves
the clip with the test RTSP server (tests/fakes/rtsp_server.py, needs
GStreamer's RTSP server from apt) and reads it with the real
``AvStreamSource``, every frame read as inference would (so both include
the BGR conversion of each frame): publishing on a bus whose subscriber keeps
the packets, then muxed, vs the same source without a bus whose frames are
re-encoded; it is paced by the server (10 fps) and includes connecting. CPU is
``time.process_time`` (every thread) per frame, median of ``--runs``; the
load average before and after is printed because other work on the machine
shows in the wall times (less in CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from camera_app.recording.encoder import EncoderOptions  # noqa: E402
from camera_app.recording.recorder import SegmentedRecorder  # noqa: E402

CLIP = "one-by-one-person-detection.mp4"
Path_ = Callable[[Path], int]


def fixture_clip() -> Path:
    fixtures = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
    return fixtures / "videos" / CLIP


def demux(clip: Path, n: int) -> tuple[list[av.Packet], Any]:
    container = av.open(str(clip))
    stream = container.streams.video[0]
    packets = []
    for p in container.demux(stream):
        if p.size:
            packets.append(p)
        if len(packets) == n:
            break
    return packets, stream


def decode_only(packets: list[av.Packet], stream: Any) -> Path_:
    def run(tmp: Path) -> int:
        codec = av.CodecContext.create(stream.codec_context.name, "r")
        codec.extradata = stream.codec_context.extradata
        n = sum(len(codec.decode(p)) for p in packets)
        return n + len(codec.decode(None))

    return run


def copy(packets: list[av.Packet], stream: Any) -> Path_:
    def run(tmp: Path) -> int:
        codec = av.CodecContext.create(stream.codec_context.name, "r")
        codec.extradata = stream.codec_context.extradata
        with av.open(str(tmp / "copy.mp4"), "w") as out:
            s = out.add_stream_from_template(stream)
            for p in packets:
                codec.decode(p)
                q = av.Packet(bytes(p))
                q.pts, q.dts, q.time_base, q.is_keyframe = p.pts, p.dts, p.time_base, p.is_keyframe
                q.stream = s
                out.mux(q)
        return len(packets)

    return run


def reencode(packets: list[av.Packet], stream: Any) -> Path_:
    fps = float(stream.average_rate or 30)

    def run(tmp: Path) -> int:
        codec = av.CodecContext.create(stream.codec_context.name, "r")
        codec.extradata = stream.codec_context.extradata
        rec = SegmentedRecorder.to_file(
            tmp / "reencode.mp4", options=EncoderOptions(codec="libx264", fps=fps)
        )
        rec.open()
        n = 0
        for p in [*packets, None]:
            for frame in codec.decode(p):
                rec.write(frame.to_ndarray(format="bgr24"), round(n * 1e9 / fps))
                n += 1
        rec.close()
        return n

    return run


def measure(path: Path_, runs: int) -> dict[str, float]:
    cpu, wall = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
            c0, w0 = time.process_time(), time.perf_counter()
            frames = path(Path(tmp))
            cpu.append((time.process_time() - c0) * 1000 / frames)
            wall.append((time.perf_counter() - w0) * 1000 / frames)
    return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


def rtsp_paths(clip: Path, n: int) -> dict[str, Path_]:
    sys.path.insert(0, str(REPO / "tests" / "fakes"))
    from rtsp import RtspServer

    from camera_app.clips.packets import PacketBus
    from camera_app.sources.stream_av import AvStreamSource

    def via_source(reencode_frames: bool) -> Path_:
        def run(tmp: Path) -> int:
            with RtspServer(clip) as server:
                bus = PacketBus()
                kept: list[Any] = []
                if not reencode_frames:
                    bus.subscribe(kept.append)
                src = AvStreamSource(server.url, None if reencode_frames else bus)
                info = src.start()
                fps = info.fps or 10.0
                rec = None
                if reencode_frames:
                    rec = SegmentedRecorder.to_file(
                        tmp / "r.mp4", options=EncoderOptions(codec="libx264", fps=fps)
                    )
                    rec.open()
                for _ in range(n):
                    frame = src.read(5.0)
                    assert frame is not None
                    if rec is not None:
                        rec.write(frame.image, frame.timestamp_ns)
                src.stop()
                if rec is not None:
                    rec.close()
                else:
                    mux_packets(kept, tmp / "c.mp4")
            return n

        return run

    return {"copy (rtsp)": via_source(False), "re-encode (rtsp)": via_source(True)}


def mux_packets(packets: list[Any], path: Path) -> None:
    tb = Fraction(1, 90000)
    t0 = packets[0].dts_ns
    with av.open(str(path), "w") as out:
        s = out.add_stream(packets[0].stream.codec, rate=10)
        s.width, s.height = packets[0].stream.size_wh
        if packets[0].stream.extradata:
            s.codec_context.extradata = packets[0].stream.extradata
        for p in packets:
            q = av.Packet(p.data)
            q.pts = round((p.pts_ns - t0) * 90000 / 1e9)
            q.dts = round((p.dts_ns - t0) * 90000 / 1e9)
            q.time_base, q.is_keyframe, q.stream = tb, p.keyframe, s
            out.mux(q)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rtsp", action="store_true", help="through a loopback RTSP server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clip = fixture_clip()
    load_before = os.getloadavg()[0]
    if args.rtsp:
        paths = rtsp_paths(clip, args.frames)
    else:
        packets, stream = demux(clip, args.frames)
        paths = {
            "decode": decode_only(packets, stream),
            "copy": copy(packets, stream),
            "re-encode": reencode(packets, stream),
        }
    results = {name: measure(path, args.runs) for name, path in paths.items()}
    load_after = os.getloadavg()[0]
    names = list(results)
    copy_name = next(n for n in names if n.startswith("copy"))
    re_name = next(n for n in names if n.startswith("re-encode"))
    ratio = results[re_name]["cpu_ms"] / results[copy_name]["cpu_ms"]
    if args.json:
        print(json.dumps({"results": results, "reencode_over_copy_cpu": ratio,
                          "load_before": load_before, "load_after": load_after}))  # fmt: skip
        return
    print(
        f"{CLIP} ({'rtsp loopback' if args.rtsp else 'file'}), {args.frames} frames, "
        f"median of {args.runs} runs, load average {load_before:.2f} -> {load_after:.2f}"
    )
    print(f"{'path':<20} {'CPU ms/frame':>13} {'wall ms/frame':>14}")
    for name, r in results.items():
        print(f"{name:<20} {r['cpu_ms']:>13.2f} {r['wall_ms']:>14.2f}")
    print(f"re-encode / copy CPU: {ratio:.1f}x")


if __name__ == "__main__":
    main()
