"""Network cameras through PyAV against a real RTSP server on loopback (camera_app/sources/stream_av.py).

The server is GStreamer's gst-rtsp-server (tests/fakes/rtsp_server.py) serving
a fixture clip as the camera would: its own H.264 packets payloaded as RTP,
SPS/PPS in band before key frames, nothing re-encoded. The client is the real
``AvStreamSource``, alone or in ``ReconnectingSource``; the bus records what
was published (tests/fakes/recording_bus.py).
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from camera_app.errors import EXIT_USAGE, SourceError
from camera_app.events import SourceEvent
from camera_app.sources import SourceOptions, open_source
from camera_app.sources.reconnect import ReconnectingSource
from camera_app.sources.stream_av import AvStreamSource, redacted

FAKES = Path(__file__).resolve().parent.parent / "fakes"
CLIP = "one-by-one-person-detection.mp4"  # H.264 Main, 768x432, 10 fps, B-frames (depth 1)


_availability: list[str | None] = []  # what is missing for the RTSP server, checked once


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The RTSP server (skipped, or failed under CAMERA_APP_NO_SKIPS, where it
    cannot run) and the recording bus."""
    monkeypatch.syspath_prepend(str(FAKES))
    import recording_bus
    import rtsp

    if not _availability:
        _availability.append(rtsp.rtsp_server_available())
    if _availability[0]:
        if os.environ.get("CAMERA_APP_NO_SKIPS"):
            pytest.fail(_availability[0])
        pytest.skip(_availability[0])
    return type("Fakes", (), {"RtspServer": rtsp.RtspServer, "Bus": recording_bus.RecordingBus})


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(FAKES))
    from recording_bus import RecordingBus

    return RecordingBus()


@pytest.fixture
def clip(videos_dir: Path) -> Path:
    return videos_dir / CLIP


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection made: ``av.open`` calls."""
    calls: list[str] = []
    real = av.open

    def counting(url: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(url))
        return real(url, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting)
    return calls


def nals(data: bytes) -> list[bytes]:
    """NAL units of an Annex B access unit."""
    starts, pos = [], 0
    while (pos := data.find(b"\x00\x00\x01", pos)) != -1:
        pos += 3
        starts.append(pos)
    out = []
    for i, s in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        out.append(data[s:end].rstrip(b"\x00") if i + 1 < len(starts) else data[s:end])
    return out


def avcc_nals(data: bytes) -> list[bytes]:
    """NAL units of an MP4 (length-prefixed) sample."""
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def slices(units: list[bytes]) -> list[bytes]:
    return [u for u in units if u[0] & 0x1F in (1, 5)]


def file_packets(path: Path, count: int) -> list[av.Packet]:
    with av.open(str(path)) as c:
        out = []
        for p in c.demux(c.streams.video[0]):
            if p.size:
                out.append(p)
            if len(out) == count:
                break
        return out


def mux_and_count(packets: list[Any], path: Path) -> int:
    """Copy the packets into an MP4 as a clip writer would; frames a decoder gets back."""
    stream_info = packets[0].stream
    tb = Fraction(1, 90000)
    t0 = packets[0].dts_ns if packets[0].dts_ns is not None else packets[0].pts_ns
    with av.open(str(path), "w") as out:
        s = out.add_stream(stream_info.codec, rate=10)
        s.width, s.height = stream_info.size_wh
        if stream_info.extradata:
            s.codec_context.extradata = stream_info.extradata
        s.time_base = tb
        for p in packets:
            pkt = av.Packet(p.data)
            pkt.stream, pkt.time_base = s, tb
            pkt.pts = round((p.pts_ns - t0) * 90000 / 1e9)
            pkt.dts = round(((p.dts_ns if p.dts_ns is not None else p.pts_ns) - t0) * 90000 / 1e9)
            pkt.is_keyframe = p.keyframe
            out.mux(pkt)
    with av.open(str(path)) as back:
        assert back.streams.video[0].codec_context.name == stream_info.codec
        return sum(1 for _ in back.decode(video=0))


def test_rtsp_packets_are_the_cameras_and_frames_are_decoded_once(
    fakes: Any, clip: Path, opens: list[str], tmp_path: Path
) -> None:
    bus = fakes.Bus()
    with fakes.RtspServer(clip) as server:
        src = AvStreamSource(server.url, bus)
        info = src.start()
        frames = [src.read(3.0) for _ in range(15)]
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= 30)
        src.stop()
    assert opens == [server.url]  # one connection: the copy and the decode share it
    assert info.size_wh == (768, 432) and info.fps == pytest.approx(10) and info.live
    assert bus.kinds().split()[0] == "announce" and bus.kinds().split()[-1] == "withdraw"
    stream = bus.log[0][2]
    assert (stream.codec, stream.size_wh) == ("h264", (768, 432))
    packets = bus.packets()
    assert len(packets) == src.packets_published >= 30

    # The bytes the camera sent: every slice equals the file's, in order, and
    # SPS/PPS (SDP and in band) are the file's own; nothing was encoded.
    source = file_packets(clip, len(packets))
    assert [slices(nals(p.data)) for p in packets] == [slices(avcc_nals(bytes(p))) for p in source]
    assert [p.keyframe for p in packets] == [p.is_keyframe for p in source]
    with av.open(str(clip)) as c:
        avcc = bytes(c.streams.video[0].codec_context.extradata)
    sps_pps = {u for u in nals(stream.extradata or b"")}
    assert len(sps_pps) == 2 and all(u in avcc for u in sps_pps)
    assert all(u in sps_pps for p in packets if p.keyframe for u in nals(p.data)[:2])

    # Decoded once each: one decode per packet that went through, a frame out
    # of each but the reorder delay, and the frames read are the clip's own
    # pictures at the packets' presentation times.
    assert src.decode_errors == 0
    assert len(packets) <= src.packets_decoded <= len(packets) + 1
    assert src.packets_decoded - 2 <= src.frames_decoded <= src.packets_decoded
    by_ts = {p.pts_ns: i for i, p in enumerate(packets)}
    assert all(f is not None and f.timestamp_ns in by_ts for f in frames)
    stamps = [f.timestamp_ns for f in frames if f is not None]
    assert stamps == sorted(set(stamps))
    with av.open(str(clip)) as c:
        pictures = {
            f.pts: f.to_ndarray(format="bgr24")
            for f, _ in zip(c.decode(video=0), range(len(packets) + 4), strict=False)
        }
    for f in frames[3:6]:
        assert f is not None
        i = by_ts[f.timestamp_ns]
        assert np.array_equal(f.image, pictures[source[i].pts])

    # Times a muxer accepts: decode times strictly increase, presentation never before.
    dts = [p.dts_ns for p in packets]
    assert all(d is not None for d in dts) and dts == sorted(set(dts))  # type: ignore[type-var]
    assert all(p.pts_ns >= p.dts_ns for p in packets)  # type: ignore[operator]
    assert mux_and_count(packets, tmp_path / "copy.mp4") == len(packets)


def test_a_server_restart_mid_stream_withdraws_and_announces_again(
    fakes: Any, clip: Path, opens: list[str], tmp_path: Path
) -> None:
    bus = fakes.Bus()
    server = fakes.RtspServer(clip)
    servers = [server]
    attempts = 0

    def factory() -> AvStreamSource:
        nonlocal attempts
        attempts += 1
        if attempts == 3:  # the second reopen: the camera is back
            servers.append(fakes.RtspServer(clip, port=server.port))
        return AvStreamSource(server.url, bus, open_timeout_s=5.0, read_timeout_s=3.0)

    events: list[SourceEvent] = []
    src = ReconnectingSource(
        factory,
        name=server.url,
        stall_timeout_s=3.0,
        initial_delay_s=0.1,
        max_delay_s=0.5,
        jitter=0.0,
        on_event=events.append,
    )
    try:
        src.start()
        before = [src.read(3.0) for _ in range(12)]
        server.kill()  # mid-stream, mid-GOP: every connection drops
        after = []
        while len(after) < 100 and (not events or events[-1].kind != "source_up"):
            after.append(src.read(3.0))
        after += [src.read(3.0) for _ in range(12)]
        n = len(bus.packets())
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= n + 5)
    finally:
        src.stop()
        for s in servers:
            s.kill()
    frames = [f for f in before + after if f is not None]
    assert len(frames) == len(before) + len(after)
    assert [f.frame_id for f in frames] == list(range(len(frames)))
    assert [e.kind for e in events] == ["source_down", "source_up"]
    assert attempts == 3 and len(opens) == 3  # the first reopen met a refused connection
    kinds = [k.split("*")[0] for k in bus.kinds().split()]
    assert kinds == ["announce", "packet", "withdraw", "announce", "packet", "withdraw"]
    second = [i for i, e in enumerate(bus.log) if e[0] == "announce"][1]
    first_run = [e[1] for e in bus.log[:second] if e[0] == "packet"]
    second_run = [e[1] for e in bus.log[second:] if e[0] == "packet"]
    # The clip in progress ends cleanly (what was published muxes and plays);
    # the next connection starts on a key frame of its own stream.
    assert second_run[0].keyframe and second_run[0].stream is bus.log[second][2]
    assert first_run[-1].stream is bus.log[0][2] is not bus.log[second][2]
    assert mux_and_count(first_run, tmp_path / "a.mp4") == len(first_run)
    assert mux_and_count(second_run, tmp_path / "b.mp4") == len(second_run)
    dts = [p.dts_ns for p in first_run + second_run]
    assert dts == sorted(set(dts))  # type: ignore[type-var]


def test_h265_is_copied_too(fakes: Any, tmp_path: Path) -> None:
    clip = tmp_path / "hevc.mp4"
    with av.open(str(clip), "w") as out:
        s = out.add_stream("libx265", rate=15)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.codec_context.options = {"x265-params": "log-level=error:keyint=15:bframes=0"}
        for i in range(60):
            img = np.full((240, 320, 3), (i * 4) % 255, np.uint8)
            cv2.putText(img, str(i), (100, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    bus = fakes.Bus()
    with fakes.RtspServer(clip, codec="h265") as server:
        src = AvStreamSource(server.url, bus)
        info = src.start()
        frames = [src.read(3.0) for _ in range(10)]
        src.stop()
    assert info.size_wh == (320, 240) and all(f is not None for f in frames)
    packets = bus.packets()
    assert packets and packets[0].keyframe and packets[0].stream.codec == "hevc"
    assert mux_and_count(packets, tmp_path / "copy.mp4") == len(packets)


class _Mjpeg:
    """An HTTP MJPEG camera (not H.264): served to every client until closed."""

    def __init__(self, jpeg: bytes) -> None:
        stop = self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not stop.is_set():
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                            % (len(jpeg), jpeg)
                        )
                        stop.wait(0.04)
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mjpeg(images_dir: Path) -> Iterator[_Mjpeg]:
    image = next(p for p in sorted(images_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg"))
    small = cv2.resize(cv2.imread(str(image)), (320, 240))
    server = _Mjpeg(cv2.imencode(".jpg", small)[1].tobytes())
    yield server
    server.close()


def test_a_stream_that_is_not_h264_goes_through_opencv(mjpeg: _Mjpeg, bus: Any) -> None:
    src = open_source(mjpeg.url, SourceOptions(packets=bus))
    assert isinstance(src, AvStreamSource)
    info = src.start()
    try:
        frames = [src.read(3.0) for _ in range(3)]
    finally:
        src.stop()
    assert src.fallback is not None and type(src.fallback).__name__ == "OpenCVLiveSource"
    assert info.size_wh == (320, 240) and all(f is not None for f in frames)
    assert bus.log == []  # nothing to copy


def test_a_closed_port_is_one_quiet_line(capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtsp://127.0.0.1:{port}/cam"
    with pytest.raises(SourceError) as excinfo:
        AvStreamSource(url).start()
    assert str(excinfo.value) == (
        f"stream {url}: cannot be opened: Connection refused "
        "(expected a reachable rtsp://, http(s):// or rtmp:// video stream)"
    )
    assert excinfo.value.exit_code == EXIT_USAGE
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:secret@10.0.0.5:554/s1", "rtsp://10.0.0.5:554/s1"),
        ("rtsp://user@cam/s1", "rtsp://cam/s1"),
        ("http://cam/video", "http://cam/video"),
    ],
)
def test_credentials_stay_out_of_the_producer_name(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_a_silent_server_fails_the_stream_and_stop_does_not_wait_for_it(
    fakes: Any, clip: Path
) -> None:
    """The camera keeps the connection open but sends nothing (SIGSTOP): read()
    raises at its timeout, stop() withdraws at once, and the demux thread
    ends on PyAV's read timeout."""
    import signal

    bus = fakes.Bus()
    with fakes.RtspServer(clip) as server:
        src = AvStreamSource(server.url, bus, read_timeout_s=1.0)
        src.start()
        assert src.read(3.0) is not None
        thread = src._thread
        server.proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(SourceError, match=r"(no frame within 1\.5 s|the stream failed)"):
                while True:
                    src.read(1.5)
            src.stop()
            assert bus.kinds().split()[-1] == "withdraw" and bus.stream is None
            assert thread is not None
            thread.join(5.0)
            assert not thread.is_alive()
        finally:
            server.proc.send_signal(signal.SIGCONT)


def test_deeper_reordering_than_first_seen_restarts_the_copy(
    fakes: Any, clip: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Timing learned from a single packet (depth 0) meets the clip's B-frames:
    the copy is withdrawn and announced again on the next key frame, with the
    deeper depth; frames for inference keep coming meanwhile."""
    import functools

    import camera_app.sources.stream_av as stream_av
    from camera_app.sources.stream_timing import PacketTimer

    monkeypatch.setattr(stream_av, "PacketTimer", functools.partial(PacketTimer, lookahead=1))
    bus = fakes.Bus()
    with fakes.RtspServer(clip) as server:
        src = AvStreamSource(server.url, bus)
        src.start()
        frames = [src.read(3.0) for _ in range(25)]
        src.stop()
    assert all(f is not None for f in frames)
    kinds = [k.split("*")[0] for k in bus.kinds().split()]
    assert kinds == ["announce", "packet", "withdraw", "announce", "packet", "withdraw"]
    second = [i for i, e in enumerate(bus.log) if e[0] == "announce"][1]
    resumed = [e[1] for e in bus.log[second:] if e[0] == "packet"]
    assert resumed[0].keyframe
    assert mux_and_count(resumed, tmp_path / "after.mp4") == len(resumed)


def test_http_mpegts_h264_is_copied(clip: Path, bus: Any, tmp_path: Path) -> None:
    """An HTTP camera sending H.264 in MPEG-TS: the same copy path as RTSP."""
    ts = tmp_path / "cam.ts"
    with av.open(str(clip)) as src_file, av.open(str(ts), "w", format="mpegts") as out:
        s_in = src_file.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for i, p in enumerate(src_file.demux(s_in)):
            if not p.size or i >= 60:
                break
            p.stream = s_out
            out.mux(p)
    body = ts.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        src = open_source(
            f"http://127.0.0.1:{httpd.server_address[1]}/cam.ts", SourceOptions(packets=bus)
        )
        info = src.start()
        frames = [src.read(3.0)]  # served as fast as it goes: later reads may meet the end
        bus.wait_for(lambda log: "withdraw" in [e[0] for e in log])  # the file ends
        src.stop()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert isinstance(src, AvStreamSource) and src.fallback is None
    assert info.size_wh == (768, 432) and all(f is not None for f in frames)
    packets = bus.packets()
    assert packets[0].stream.codec == "h264" and len(packets) >= 50
    source = file_packets(clip, len(packets))
    assert [slices(nals(p.data)) for p in packets] == [slices(avcc_nals(bytes(p))) for p in source]
    assert mux_and_count(packets, tmp_path / "copy.mp4") == len(packets)
