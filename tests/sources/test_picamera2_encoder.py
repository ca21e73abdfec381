"""The Pi camera's H.264 from picamera2's encoder onto the packet bus, against the fake.

The fake (tests/fakes/picamera2, picamera2 0.3.36) runs the camera's event
loop, feeds attached encoders every frame and emulates the Pi 4's V4L2 codec
with libx264; on a "pi5" it binds ``H264Encoder`` to picamera2's own
``LibavH264Encoder``, as the real package does. The packets are real H.264:
the tests decode them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import av
import numpy as np
import pytest

from camera_app.sources.picamera2 import Picamera2Source
from camera_app.sources.reconnect import ReconnectingSource

FAKES = Path(__file__).resolve().parent.parent / "fakes"
MAIN_WH = (320, 240)
FPS = 50.0
RED_BGR = (30, 40, 200)  # the fake scene's left half
H264_TOLERANCE = 12


@pytest.fixture
def fake(fake_picamera2: ModuleType) -> ModuleType:
    return fake_picamera2


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(FAKES))
    from recording_bus import RecordingBus

    return RecordingBus()


def source(bus: Any, **kwargs: Any) -> Picamera2Source:
    return Picamera2Source(main_size_wh=MAIN_WH, fps=FPS, packets=bus, **kwargs)


def nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex B access unit."""
    out, pos = [], 0
    while (pos := data.find(b"\x00\x00\x01", pos)) != -1:
        pos += 3
        if pos < len(data):
            out.append(data[pos] & 0x1F)
    return out


def decode(packets: list[Any]) -> list[np.ndarray]:
    codec = av.CodecContext.create("h264", "r")
    frames = []
    for p in packets:
        frames += [f.to_ndarray(format="bgr24") for f in codec.decode(av.Packet(p.data))]
    frames += [f.to_ndarray(format="bgr24") for f in codec.decode(None)]
    return frames


@pytest.mark.parametrize(
    ("platform", "encoder_class"), [("pi4", "H264Encoder"), ("pi5", "LibavH264Encoder")]
)
def test_main_stream_h264_reaches_the_bus_on_the_capture_clock(
    fake: ModuleType, bus: Any, platform: str, encoder_class: str
) -> None:
    fake.reset(platform)
    src = source(bus)
    info = src.start()
    frames = []
    try:
        while len(frames) < 10:
            frame = src.read(2.0)
            assert frame is not None
            frames.append(frame)
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= 55)  # 2 key frames
    finally:
        src.stop()
    # One encoder, started once, of the platform's kind; stopped with the camera.
    assert [type(e).__name__ for e in fake.FAKE.encoder_starts] == [encoder_class]
    assert not fake.FAKE.encoder_starts[0].running
    assert fake.FAKE.outstanding() == []
    kinds = bus.kinds().split()
    assert kinds[0] == "announce" and kinds[1].startswith("packet*") and kinds[2:] == ["withdraw"]
    stream = bus.log[0][2]
    assert (stream.codec, stream.size_wh, stream.extradata) == ("h264", info.size_wh, None)
    assert encoder_class in bus.log[0][1]
    packets = bus.packets()
    assert all(p.stream is stream and p.dts_ns is None for p in packets)
    # A clip can start on the first packet: a key frame with SPS/PPS in band,
    # repeated before every key frame (one a second at 50 fps).
    assert packets[0].keyframe and nal_types(packets[0].data)[:2] == [7, 8]
    assert 5 in nal_types(packets[0].data)
    keys = [p for p in packets if p.keyframe]
    assert len(keys) >= 2 and all(nal_types(p.data)[:2] == [7, 8] for p in keys)
    assert all(5 not in nal_types(p.data) for p in packets if not p.keyframe)
    # Capture clock: strictly increasing, within the run, and the frames read
    # are among the encoded ones (same SensorTimestamp, to the microsecond).
    pts = [p.pts_ns for p in packets]
    assert pts == sorted(set(pts))
    encoded_us = {t // 1000 for t in pts}
    assert {f.timestamp_ns // 1000 for f in frames[2:8]} <= encoded_us
    # Real H.264 of the main stream: every packet decodes to one frame of the scene.
    decoded = decode(packets)
    assert len(decoded) == len(packets)
    h, w = decoded[0].shape[:2]
    assert (w, h) == info.size_wh
    left = decoded[-1][:, : w // 2 - 8].reshape(-1, 3).astype(int)
    assert np.abs(left - RED_BGR).max() <= H264_TOLERANCE


def test_no_raw_frame_is_kept_for_pre_roll(fake: ModuleType, bus: Any) -> None:
    """Pre-roll lives in packets on the bus: the camera's buffers go back as
    soon as the encoder has read them, and the source keeps no frames."""
    src = source(bus)
    src.start()
    held: list[int] = []
    try:
        for _ in range(60):
            assert src.read(2.0) is not None
            held.append(len(fake.FAKE.outstanding()))
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= 60)
        assert src.images is not None
        allocations = src.images.pool.allocations
    finally:
        src.stop()
    assert max(held) <= 6  # at most the camera's buffers, however many frames went by
    assert allocations <= 3  # main images come back to the pool: nothing is retained
    assert fake.FAKE.frames_delivered >= 60 and fake.FAKE.outstanding() == []
    packets = bus.packets()
    raw = MAIN_WH[0] * MAIN_WH[1] * 3 * len(packets)
    assert sum(len(p.data) for p in packets) < raw / 20


def test_a_camera_restart_withdraws_and_resumes_encoding(fake: ModuleType, bus: Any) -> None:
    opened = 0

    def factory() -> Picamera2Source:
        nonlocal opened
        opened += 1
        fake.FAKE.fail_after_frames = None  # the camera is back
        return source(bus)

    src = ReconnectingSource(factory, name="picamera2:0", initial_delay_s=0.05, jitter=0.0)
    src.start()
    try:
        for _ in range(5):
            assert src.read(2.0) is not None
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= 10)
        fake.FAKE.fail_after_frames = fake.FAKE.frames_delivered  # "Camera frontend has timed out!"
        after = [src.read(2.0) for _ in range(5)]  # through the restart
        bus.wait_for(lambda log: [e[0] for e in log].count("announce") == 2)
        n = len(bus.packets())
        bus.wait_for(lambda log: sum(e[0] == "packet" for e in log) >= n + 10)
    finally:
        src.stop()
    assert all(f is not None for f in after)
    assert opened == 2 and src.reconnects == 1
    # Once per camera start: two cameras, two encoders, both stopped.
    assert len(fake.FAKE.encoder_starts) == 2
    assert not any(e.running for e in fake.FAKE.encoder_starts)
    kinds = bus.kinds().split()
    assert [k.split("*")[0] for k in kinds] == [
        "announce",
        "packet",
        "withdraw",
        "announce",
        "packet",
        "withdraw",
    ]
    first, second = bus.log[0], next(e for e in bus.log[1:] if e[0] == "announce")
    assert first[1] != second[1] and first[2] is not second[2]  # a new stream to cut on
    split = bus.log.index(second)
    resumed = [e[1] for e in bus.log[split:] if e[0] == "packet"]
    assert resumed[0].keyframe and resumed[0].stream is second[2]
    all_pts = [p.pts_ns for p in bus.packets()]
    assert all_pts == sorted(all_pts)
    assert fake.FAKE.outstanding() == []


def test_an_encoder_that_does_not_start_leaves_the_camera_running(
    fake: ModuleType, bus: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.FAKE.encoder_error = "[Errno 16] Device or resource busy: '/dev/video11'"
    src = source(bus)
    with caplog.at_level(logging.WARNING, logger="camera_app.sources.picamera2_encoder"):
        src.start()
        try:
            frames = [src.read(2.0) for _ in range(5)]
        finally:
            src.stop()
    assert all(f is not None for f in frames)
    assert bus.kinds() == "announce withdraw" and bus.stream is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "picamera2:0: the H.264 encoder did not start ([Errno 16] Device or resource busy: "
        "'/dev/video11'); clips will be encoded from frames"
    ]
    assert fake.FAKE.outstanding() == []


def test_main_larger_than_the_pi4_hardware_takes_is_not_encoded(
    fake: ModuleType, bus: Any, caplog: pytest.LogCaptureFixture
) -> None:
    src = Picamera2Source(main_size_wh=(2304, 1296), fps=FPS, packets=bus)
    with caplog.at_level(logging.WARNING):
        src.start()
        src.stop()
    assert bus.log == [] and fake.FAKE.encoder_starts == []
    assert "larger than the H.264 hardware takes" in caplog.text


@pytest.mark.parametrize("platform", ["pi4", "pi5"])
def test_nothing_is_encoded_without_a_bus_or_a_subscriber(
    fake: ModuleType, platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No clip writer subscribed: the encoder (libx264 on a Pi 5) never starts."""
    monkeypatch.syspath_prepend(str(FAKES))
    from recording_bus import RecordingBus

    fake.reset(platform)
    idle = RecordingBus(subscribed=False)
    for bus in (None, idle):
        src = Picamera2Source(main_size_wh=MAIN_WH, fps=FPS, packets=bus)
        src.start()
        try:
            assert src.read(2.0) is not None
        finally:
            src.stop()
        assert fake.FAKE.encoder_starts == [] and fake.FAKE.configs[-1]["buffer_count"] == 4
    assert idle.log == []


def test_pi5_software_encoder_is_limited_to_two_threads(fake: ModuleType, bus: Any) -> None:
    fake.reset("pi5")
    src = source(bus)
    src.start()
    src.stop()
    (encoder,) = fake.FAKE.encoder_starts
    assert type(encoder).__name__ == "LibavH264Encoder" and encoder.threads == 2
    assert (encoder.iperiod, encoder.framerate, encoder.repeat) == (50, FPS, True)
    assert fake.FAKE.configs[-1]["buffer_count"] == 6


# -- the fake itself follows picamera2 0.3.36 -------------------------------------------


def test_fake_binds_h264encoder_per_platform_like_picamera2(fake: ModuleType) -> None:
    from picamera2.encoders import LibavH264Encoder, V4L2Encoder

    fake.reset("pi4")
    assert issubclass(fake.encoders.H264Encoder, V4L2Encoder)
    fake.reset("pi5")
    assert fake.encoders.H264Encoder is LibavH264Encoder


def test_fake_start_encoder_contract(fake: ModuleType) -> None:
    from picamera2.encoders import H264Encoder
    from picamera2.outputs import Output

    cam = fake.Picamera2(0)
    cam.configure(cam.create_video_configuration(main={"size": MAIN_WH, "format": "RGB888"}))
    encoder = H264Encoder()
    seen: list[tuple[Any, ...]] = []
    done = threading.Event()

    class Probe(Output):
        def outputframe(self, *args: Any) -> None:  # what picamera2 0.3.36 passes
            seen.append(args)
            done.set()

    with pytest.raises(RuntimeError, match="Must pass Output"):
        encoder.output = object()
    cam.start_encoder(encoder, Probe())  # name: the configuration's "encode" stream (main)
    try:
        assert (encoder.name, encoder.size, encoder.format) == ("main", MAIN_WH, "RGB888")
        assert encoder.framerate == pytest.approx(1e6 / 33333)  # pegged at 30 fps at most
        with pytest.raises(RuntimeError, match="Encoder already running"):
            encoder.start()
        cam.start()
        assert done.wait(5.0)
    finally:
        cam.stop()
        cam.stop_encoder()
        cam.close()
    frame, keyframe, timestamp, packet, audio = seen[0]
    assert isinstance(frame, bytes) and keyframe is True and timestamp == 0
    assert packet is None and audio is False
    with pytest.raises(RuntimeError, match="Encoder already stopped"):
        encoder.stop()


def test_fake_circular_output2_is_a_delay_line(fake: ModuleType) -> None:
    """Why the source publishes through a plain Output: CircularOutput2 hands a
    frame to its output only ``buffer_duration_ms`` after it was encoded."""
    from picamera2.outputs import CircularOutput2, Output

    class Sink(Output):
        def __init__(self) -> None:
            super().__init__()
            self.frames: list[tuple[bytes, int]] = []

        def outputframe(
            self, frame: Any, keyframe: bool = True, timestamp: Any = None, *a: Any
        ) -> None:
            self.frames.append((frame, timestamp))

    circular = CircularOutput2(buffer_duration_ms=1000)
    circular.start()
    sink = Sink()
    circular.open_output(sink)
    for i in range(20):  # 0.1 s apart, a key frame every 5
        circular.outputframe(b"f%d" % i, i % 5 == 0, i * 100_000)
    assert [f for f, _ in sink.frames] == [b"f%d" % i for i in range(10)]  # 1 s behind
    assert [t for _, t in sink.frames][:2] == [0, 100_000]
    circular.stop()  # flushes the rest into the open output
    assert len(sink.frames) == 20
