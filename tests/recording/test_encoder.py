"""Encoding BGR frames: every format plays every frame, at the frames' own times."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from camera_app.recording.encoder import (
    EncoderOptions,
    VideoEncoder,
    choose_codec,
    hardware_h264_opens,
)
from camera_app.recording.files import OutputFile

Decode = Callable[[Path], list[av.VideoFrame]]
SUFFIXES = [".mp4", ".mkv", ".avi", ".mov"]


def _encode(
    path: Path,
    frames: list[np.ndarray],
    times_ns: list[int],
    options: EncoderOptions | None = None,
    size_wh: tuple[int, int] | None = None,
) -> VideoEncoder:
    h, w = frames[0].shape[:2]
    encoder = VideoEncoder(OutputFile.create([path]), path.suffix, size_wh or (w, h), options)
    for frame, t in zip(frames, times_ns, strict=True):
        encoder.write(frame, t)
    encoder.finish()
    return encoder


def _numbered(frame: np.ndarray, i: int) -> np.ndarray:
    """The clip moves slowly: a white block at x = 20 i tells frames apart."""
    out = frame.copy()
    cv2.rectangle(out, (i * 20, 0), (i * 20 + 17, 40), (255, 255, 255), -1)
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-6))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_frame_plays_back_in_order(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode, suffix: str
) -> None:
    frames = [_numbered(f, i) for i, f in enumerate(clip_frames[:30])]
    encoder = _encode(tmp_path / f"r{suffix}", frames, [i * 33_333_333 for i in range(30)])
    assert encoder.codec == ("mjpeg" if suffix in (".mkv", ".avi") else "libx264")
    assert encoder.frames_durable == 30
    decoded = [f.to_ndarray(format="bgr24") for f in decode(tmp_path / f"r{suffix}")]
    assert len(decoded) == 30
    # Each decoded frame is closest to its own source frame: content, in order.
    for i, image in enumerate(decoded):
        scores = [_psnr(image, f) for f in frames]
        assert int(np.argmax(scores)) == i
        assert scores[i] > 28, f"frame {i}: {scores[i]:.1f} dB"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_timestamps_are_capture_times_so_drops_keep_real_speed(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode, suffix: str
) -> None:
    # 10 fps with a 2 s hole (a camera stall) and a 0.5 s hole.
    times_s = [i * 0.1 for i in range(10)] + [2.9 + i * 0.1 for i in range(10)]
    times_s += [4.3 + i * 0.1 for i in range(5)]
    start_ns = 123_456_789_000  # monotonic clock: any origin
    times_ns = [start_ns + round(t * 1e9) for t in times_s]
    _encode(tmp_path / f"r{suffix}", clip_frames[:25], times_ns, EncoderOptions(fps=10))
    decoded = decode(tmp_path / f"r{suffix}")
    assert len(decoded) == 25
    played = [float(f.time) for f in decoded]
    assert played == pytest.approx(times_s, abs=0.002)
    with av.open(str(tmp_path / f"r{suffix}")) as c:
        assert c.duration is not None
        assert c.duration / 1e6 == pytest.approx(times_s[-1] + 0.1, abs=0.11)


def test_a_key_frame_every_interval_of_capture_time(
    tmp_path: Path, clip_frames: list[np.ndarray]
) -> None:
    # 45 frames at 15 fps (3 s), key frames forced every second of capture time.
    times = [round(i * 1e9 / 15) for i in range(45)]
    frames = [clip_frames[i % 60] for i in range(45)]
    _encode(tmp_path / "k.mp4", frames, times, EncoderOptions(fps=30, keyframe_interval_s=1.0))
    with av.open(str(tmp_path / "k.mp4")) as c:
        keys = [i for i, p in enumerate(c.demux(video=0)) if p.size and p.is_keyframe]
    assert keys[:3] == [0, 15, 30]


def test_odd_sizes_are_cropped_and_other_sizes_resized(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    odd = [f[:181, :321] for f in clip_frames[:3]]
    _encode(tmp_path / "odd.mp4", odd, [0, 10**8, 2 * 10**8])
    assert {(f.width, f.height) for f in decode(tmp_path / "odd.mp4")} == {(320, 180)}

    mixed = [clip_frames[0], cv2.resize(clip_frames[1], (320, 180)), clip_frames[2]]
    _encode(tmp_path / "mixed.mkv", mixed, [0, 10**8, 2 * 10**8])
    assert {(f.width, f.height) for f in decode(tmp_path / "mixed.mkv")} == {(640, 360)}


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_colours_survive(tmp_path: Path, decode: Decode, suffix: str) -> None:
    """OpenCV's I420 (BT.601, limited range) is tagged as such: red stays red."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = (0, 0, 255)  # red in BGR
    image[:, 32:] = (255, 128, 0)
    _encode(tmp_path / f"c{suffix}", [image] * 3, [0, 10**8, 2 * 10**8])
    out = decode(tmp_path / f"c{suffix}")[-1].to_ndarray(format="bgr24").astype(int)
    assert np.abs(out[:, 4:28].mean(axis=(0, 1)) - (0, 0, 255)).max() < 12
    assert np.abs(out[:, 36:60].mean(axis=(0, 1)) - (255, 128, 0)).max() < 12


def test_h264_falls_back_to_libx264_where_no_hardware_encoder_opens() -> None:
    if hardware_h264_opens((640, 360), 30.0):
        pytest.skip("this machine has a hardware H.264 encoder (a Pi 4): nothing to fall back from")
    assert choose_codec(".mp4", (640, 360), EncoderOptions(codec="h264")) == "libx264"
    assert choose_codec(".mp4", (640, 360), EncoderOptions()) == "libx264"
    with pytest.raises(ValueError, match="no h264 encoder opens here"):
        choose_codec(".mp4", (640, 360), EncoderOptions(codec="h264_v4l2m2m"))


@pytest.mark.parametrize(
    ("suffix", "options", "message"),
    [
        (".mp4", EncoderOptions(codec="mjpeg"), r"\.mp4 files cannot hold mjpeg"),
        (".avi", EncoderOptions(codec="h264"), r"\.avi files cannot hold h264"),
        (".mp4", EncoderOptions(codec="hevc"), "codec must be one of"),
        (".mp4", EncoderOptions(preset="placebo"), "preset must be one of"),
        (".mp4", EncoderOptions(crf=52), "crf must be 0..51"),
        (".mkv", EncoderOptions(jpeg_quality=0), "JPEG quality must be 1..100"),
        (".mp4", EncoderOptions(keyframe_interval_s=0), "key frame interval"),
        (".mp4", EncoderOptions(fps=0), "fps must be"),
        (".mp4", EncoderOptions(bitrate_bps=10), "bit rate"),
        (".webm", EncoderOptions(), "unsupported file type .webm"),
        ("", EncoderOptions(), r"unsupported file type \(none\)"),
    ],
)
def test_bad_options_name_what_is_wrong(suffix: str, options: EncoderOptions, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        options.validate(suffix)


def test_good_options_validate() -> None:
    for suffix in SUFFIXES:
        EncoderOptions().validate(suffix)
    EncoderOptions(codec="h264").validate(".mkv")
    EncoderOptions(codec="libx264", preset="veryfast", tune="").validate(".mp4")
