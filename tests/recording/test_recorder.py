"""SegmentedRecorder: never overwrites, rotates, keeps a budget, survives write failures."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from camera_app.errors import SinkError
from camera_app.recording.encoder import EncoderOptions
from camera_app.recording.recorder import SegmentedRecorder
from camera_app.recording.retention import Retention

Decode = Callable[[Path], list[av.VideoFrame]]
T0 = 1_795_960_925.0  # 2026-11-29T14:02:05Z
FRAME_NS = 100_000_000  # 10 fps


def _frames(clip: list[np.ndarray], size_wh: tuple[int, int] = (320, 180)) -> list[np.ndarray]:
    return [cv2.resize(f, size_wh) for f in clip]


def _videos(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".mp4", ".mkv", ".avi"))


def test_nothing_is_created_before_open_and_an_unused_file_is_removed(tmp_path: Path) -> None:
    recorder = SegmentedRecorder.to_file(tmp_path / "rec.mp4")
    assert not recorder.write(np.zeros((32, 32, 3), np.uint8), 0)  # not open: dropped
    assert list(tmp_path.iterdir()) == []
    recorder.open()
    assert [p.name for p in tmp_path.iterdir()] == ["rec.mp4"]  # the name is taken at open
    recorder.close()
    assert list(tmp_path.iterdir()) == []  # no frame came: nothing to keep


def test_an_existing_recording_is_never_overwritten(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    frames = _frames(clip_frames[:10])
    path = tmp_path / "rec.mp4"
    runs = []
    for run in range(3):  # the same command started three times
        wall = T0 + run
        with SegmentedRecorder.to_file(path, wall_clock=lambda w=wall: w) as recorder:
            for i, frame in enumerate(frames[: 4 + run]):
                assert recorder.write(frame, i * FRAME_NS)
        runs.append(recorder.state())
    names = [p.name for p in _videos(tmp_path)]
    assert names == ["rec-2026-11-29T14-02-06Z.mp4", "rec-2026-11-29T14-02-07Z.mp4", "rec.mp4"]
    assert [len(decode(tmp_path / n)) for n in names] == [5, 6, 4]
    assert [s.written for s in runs] == [4, 5, 6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"segment_s": 0.1}, "segment_s must be"),
        ({"options": EncoderOptions(crf=99)}, "crf must be"),
        ({"retention": Retention(max_bytes=0)}, "max_bytes must be positive"),
    ],
)
def test_bad_settings_fail_at_open(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    recorder = SegmentedRecorder.in_directory(tmp_path, **kwargs)
    with pytest.raises(SinkError, match=message):
        recorder.open()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_or_bad_type_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match=r"folder .*missing does not exist"):
        SegmentedRecorder.to_file(tmp_path / "missing" / "rec.mp4").open()
    with pytest.raises(SinkError, match=r"unsupported file type \.webm"):
        SegmentedRecorder.to_file(tmp_path / "rec.webm").open()


def test_validate_checks_without_creating_anything(tmp_path: Path) -> None:
    SegmentedRecorder.to_file(tmp_path / "rec.mkv").validate()
    SegmentedRecorder.in_directory(tmp_path, ".avi", segment_s=60).validate()
    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(SinkError, match="is a directory"):
        SegmentedRecorder.to_file(tmp_path / "taken.mp4").validate()
    assert [p.name for p in tmp_path.iterdir()] == ["taken.mp4"]


def test_the_nominal_rate_sets_avi_time_unit_and_capture_times_still_rule(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    recorder = SegmentedRecorder.to_file(tmp_path / "rec.avi")
    recorder.set_nominal_fps(10.0)
    with recorder:
        for i, frame in enumerate(_frames(clip_frames[:10])):
            recorder.write(frame, (i + (5 if i >= 5 else 0)) * FRAME_NS)  # a 0.5 s gap
    with av.open(str(tmp_path / "rec.avi")) as c:
        assert c.streams.video[0].average_rate == 10
    assert [round(float(f.time), 1) for f in decode(tmp_path / "rec.avi")] == [
        0.0, 0.1, 0.2, 0.3, 0.4, 1.0, 1.1, 1.2, 1.3, 1.4,
    ]  # fmt: skip


def test_segments_rotate_by_capture_time_each_starting_with_a_key_frame(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    frames = _frames(clip_frames)
    t_ns = [0]
    recorder = SegmentedRecorder.in_directory(
        tmp_path, ".mp4", segment_s=2.0, wall_clock=lambda: T0 + t_ns[0] / 1e9
    )
    with recorder:
        for i in range(55):  # 5.5 s at 10 fps
            t_ns[0] = i * FRAME_NS
            assert recorder.write(frames[i % 60], t_ns[0])
    files = _videos(tmp_path)
    assert [p.name for p in files] == [
        "2026-11-29T14-02-05Z.mp4",
        "2026-11-29T14-02-07Z.mp4",
        "2026-11-29T14-02-09Z.mp4",
    ]
    assert [len(decode(p)) for p in files] == [20, 20, 15]
    for path in files:
        with av.open(str(path)) as c:
            first = next(p for p in c.demux(video=0) if p.size)
            assert first.is_keyframe
    state = recorder.state()
    assert (state.ok, state.written, state.files, state.dropped) == (True, 55, 3, 0)


def test_retention_keeps_the_folder_within_budget_and_the_newest_segments(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    frames = _frames(clip_frames, (640, 360))
    max_bytes = 600_000
    t_ns = [0]
    recorder = SegmentedRecorder.in_directory(
        tmp_path,
        ".mp4",
        segment_s=2.0,
        retention=Retention(max_bytes=max_bytes, pattern="*.mp4"),
        wall_clock=lambda: T0 + t_ns[0] / 1e9,
    )
    largest = 0
    created: list[str] = []
    rng = np.random.default_rng(0)
    with recorder:
        for i in range(600):  # a minute at 10 fps, 30 segments
            t_ns[0] = i * FRAME_NS
            # some grain, more in some segments: segments of varying size
            grain = rng.integers(0, 8 if (i // 20) % 3 else 24, frames[0].shape, np.uint8)
            assert recorder.write(cv2.add(frames[i % 60], grain), t_ns[0])
            if recorder.path and recorder.path.name not in created:
                created.append(recorder.path.name)
            sizes = [p.stat().st_size for p in _videos(tmp_path)]
            largest = max([largest, *sizes])
            assert sum(sizes) <= max_bytes + largest
    files = _videos(tmp_path)
    assert len(created) == 30
    assert 1 < len(files) < 30
    assert [p.name for p in files] == created[-len(files) :]  # the newest are kept
    for path in files:
        assert len(decode(path)) == 20  # every kept segment plays, whole
    assert recorder.state().written == 600


def test_a_deleted_file_is_noticed_reported_once_and_a_new_one_started(
    tmp_path: Path,
    clip_frames: list[np.ndarray],
    decode: Decode,
    clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(clip_frames)
    caplog.set_level(logging.INFO, logger="camera_app.recording")
    recorder = SegmentedRecorder.to_file(tmp_path / "rec.mp4", clock=clock, wall_clock=lambda: T0)
    recorder.open()
    for i in range(20):
        clock.advance(0.1)
        assert recorder.write(frames[i], i * FRAME_NS)
    (tmp_path / "rec.mp4").unlink()
    results = []
    for i in range(20, 60):
        clock.advance(0.1)
        results.append(recorder.write(frames[i], i * FRAME_NS))
    recorder.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "deleted" in errors[0]
    assert any("writing again" in r.getMessage() for r in caplog.records)
    first_drop = results.index(False)
    resumed = results.index(True, first_drop)
    assert all(results[resumed:])  # back-off over: every frame written again
    new_frames = len(decode(tmp_path / "rec.mp4"))
    assert new_frames == len(results) - resumed
    state = recorder.state()
    assert (state.ok, state.failures, state.files) == (True, 1, 2)
    assert state.written + state.dropped == 60  # every frame counted once
    assert 0 < state.written - new_frames <= 20  # what went into the deleted file


def test_packets_are_recorded_in_segments_cut_at_key_frames(
    tmp_path: Path, clip_frames: list[np.ndarray], decode: Decode
) -> None:
    # A hardware encoder's output: Annex B, SPS/PPS in band, a key frame every 5 frames.
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 180, "yuv420p"
    ctx.time_base = Fraction(1, 10)
    ctx.gop_size = 5
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "scenecut": "0"}
    packets: list[av.Packet] = []
    for i, image in enumerate(_frames(clip_frames[:50])):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = i
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    assert len(packets) == 50
    out = tmp_path / "segments"
    out.mkdir()
    t_ns = [0]
    recorder = SegmentedRecorder.in_directory(
        out, ".mp4", segment_s=1.2, wall_clock=lambda: T0 + t_ns[0] / 1e9
    )
    with recorder:
        for i, packet in enumerate(packets):
            t_ns[0] = i * FRAME_NS
            assert recorder.write_packet(bytes(packet), t_ns[0], packet.is_keyframe, (320, 180))
    files = _videos(out)
    counts = [len(decode(p)) for p in files]
    # key frames every 0.5 s: a 1.2 s segment ends at the first key frame after it
    assert counts == [15, 15, 15, 5]
    assert recorder.state().written == 50


def _grainy(frames: list[np.ndarray], amount: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [cv2.add(f, rng.integers(0, amount, f.shape, np.uint8)) for f in frames]


def test_a_full_disk_is_reported_once_counted_honestly_and_left_behind(
    small_fs: Path,
    clip_frames: list[np.ndarray],
    decode: Decode,
    clock,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    frames = _grainy(_frames(clip_frames, (640, 360)), 48)
    caplog.set_level(logging.DEBUG)
    recorder = SegmentedRecorder.in_directory(small_fs, ".mp4", segment_s=2.0, clock=clock)
    recorder.open()
    results = []
    for i in range(300):  # 30 s at 10 fps: the 2 MB fill in the first seconds
        clock.advance(0.1)
        results.append(recorder.write(frames[i % 60], i * FRAME_NS))
    state = recorder.state()
    assert not state.ok and state.reason == "No space left on device (ENOSPC)"
    assert results[0] and not results[-1]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert not [r for r in caplog.records if r.name.startswith("libav")]
    assert capfd.readouterr().err == ""  # nothing from FFmpeg either
    # Honest counts: what the files hold, and every frame counted once.
    files = _videos(small_fs)
    held = [len(decode(p)) for p in files]
    assert all(held) and sum(held) == state.written
    assert state.written + state.dropped == 300
    for path in files:  # the torn fragment was cut off: every packet decodes
        with av.open(str(path)) as c:
            assert len([p for p in c.demux(video=0) if p.size]) == len(decode(path))

    # Space is freed: recording resumes by itself within the back-off.
    written_before = state.written
    for path in files:
        path.unlink()
    for i in range(300, 700):
        clock.advance(0.1)
        results.append(recorder.write(frames[i % 60], i * FRAME_NS))
        if recorder.state().ok:
            break
    recorder.close()
    state = recorder.state()
    assert state.ok and state.failures == 1
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert len([r for r in caplog.records if "writing again" in r.getMessage()]) == 1
    assert state.written == written_before + sum(len(decode(p)) for p in _videos(small_fs))
    assert state.written + state.dropped == len(results)


def test_min_free_bytes_makes_room_so_recording_never_fails(
    small_fs: Path, clip_frames: list[np.ndarray], decode: Decode, clock
) -> None:
    frames = _grainy(_frames(clip_frames), 32)
    recorder = SegmentedRecorder.in_directory(
        small_fs,
        ".mp4",
        segment_s=1.0,
        retention=Retention(min_free_bytes=800_000, pattern="*.mp4"),
        clock=clock,
    )
    with recorder:
        for i in range(600):  # a minute: several times the 2 MB
            clock.advance(0.1)
            assert recorder.write(frames[i % 60], i * FRAME_NS), recorder.state()
    state = recorder.state()
    assert (state.ok, state.failures, state.written) == (True, 0, 600)
    files = _videos(small_fs)
    assert sum(len(decode(p)) for p in files) < 600  # old segments were deleted
    assert all(len(decode(p)) == 10 for p in files)


def test_a_read_only_file_system_fails_at_open(small_fs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True, timeout=10)
    with pytest.raises(SinkError, match=r"cannot be created \(Read-only file system \(EROFS\)\)"):
        SegmentedRecorder.in_directory(small_fs).open()
