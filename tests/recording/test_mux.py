"""Muxing: fragmented MP4 that survives SIGKILL, and stream copy of H.264 packets."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from camera_app.recording.encoder import EncoderOptions, VideoEncoder
from camera_app.recording.files import OutputFile
from camera_app.recording.mux import PacketWriter

Decode = Callable[[Path], list[av.VideoFrame]]
CHILD = Path(__file__).with_name("kill_child.py")
REPO = Path(__file__).resolve().parents[2]


def _read_reports(proc: subprocess.Popen[bytes], until_s: float) -> list[tuple[float, int]]:
    """(time received, frames recorded) from the child until ``until_s`` after its first report."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    reports: list[tuple[float, int]] = []
    pending = b""
    deadline = time.monotonic() + 60  # start-up (imports) bound
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"child exited early ({proc.wait(5)})")
        now = time.monotonic()
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if lines and not reports:
            deadline = now + until_s
        reports += [(now, int(line)) for line in lines]
    return reports


@pytest.mark.parametrize("attempt", range(10))
def test_mp4_and_jsonl_survive_sigkill_at_a_random_moment(
    tmp_path: Path, videos_dir: Path, decode: Decode, attempt: int
) -> None:
    out, jsonl = tmp_path / "rec.mp4", tmp_path / "det.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            str(videos_dir / "bottle-detection.mp4"),
            str(out),
            str(jsonl),
        ],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        reports = _read_reports(proc, until_s=random.Random(attempt).uniform(1.5, 4.0))
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert reports, "the child never reported a frame"
    before = [n for t, n in reports if t <= killed_at - 1.0]
    recorded_1s_before = before[-1] if before else 0
    assert recorded_1s_before >= 5, reports[:3]
    frames = decode(out)
    assert len(frames) >= 0.9 * recorded_1s_before, (len(frames), recorded_1s_before, reports[-1])
    assert all(f.width == 640 and f.height == 360 for f in frames)
    # The JSON Lines log: every line whole, at least every line reported.
    text = jsonl.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["event"] == "start"
    assert len(records) - 1 >= reports[-1][1]


def test_packets_demuxed_from_a_file_are_remuxed_without_reencoding(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    times = [round(i * 1e9 / 30) for i in range(40)]
    source = tmp_path / "src.mp4"
    encoder = VideoEncoder(OutputFile.create([source]), ".mp4", (640, 360), EncoderOptions())
    for frame, t in zip(clip_frames[:40], times, strict=True):
        encoder.write(frame, t)
    encoder.finish()
    original = [bytes(p) for p in _demux(source)]

    for suffix in (".mp4", ".mkv"):
        copy = tmp_path / f"copy{suffix}"
        with av.open(str(source)) as c:
            writer = PacketWriter.from_stream(OutputFile.create([copy]), suffix, c.streams.video[0])
            for packet in c.demux(video=0):
                if packet.size:
                    writer.write_packet(packet)
            writer.finish()
        assert writer.packets_durable == 40
        assert [bytes(p) for p in _demux(copy)] == original  # the same bytes: no re-encoding
        frames = decode(copy)
        assert [round(float(f.time), 3) for f in frames] == [round(t / 1e9, 3) for t in times]


def test_a_raw_h264_stream_with_in_band_headers_is_muxed(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    """What a hardware encoder gives: Annex B, SPS/PPS on key frames, no extradata."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 640, 360, "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.gop_size = 15
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
    packets: list[tuple[bytes, bool]] = []
    for i, image in enumerate(clip_frames[:30]):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = i
        packets += [(bytes(p), p.is_keyframe) for p in ctx.encode(frame)]
    packets += [(bytes(p), p.is_keyframe) for p in ctx.encode(None)]
    assert not ctx.extradata and packets[0][0].startswith(b"\x00\x00\x00\x01")

    for suffix in (".mp4", ".mkv"):
        path = tmp_path / f"raw{suffix}"
        writer = PacketWriter(OutputFile.create([path]), suffix, size_wh=(640, 360), fps=30)
        start_ns = 5_000_000_000
        for i, (data, key) in enumerate(packets):
            writer.write(data, start_ns + round(i * 1e9 / 30), key)
        writer.finish()
        frames = decode(path)
        assert len(frames) == 30
        assert float(frames[-1].time) == pytest.approx(29 / 30, abs=0.002)


def test_packet_writer_needs_a_size_or_a_template(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size_wh or a template"):
        PacketWriter(OutputFile.create([tmp_path / "x.mp4"]), ".mp4")


def _demux(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as c:
        return [p for p in c.demux(video=0) if p.size]
