"""Recording the annotated stream: RecordSink over SegmentedRecorder."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
import pytest

from camera_app.errors import ConfigError, SinkError
from camera_app.frames import Frame, SourceInfo
from camera_app.recording import files as files_module
from camera_app.recording.encoder import EncoderOptions, hardware_h264_opens
from camera_app.results import Detections, FrameResult
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordConfig, RecordSink
from camera_app.stats import PipelineStats

REPO = Path(__file__).resolve().parents[2]
REPLAY = SourceInfo("t", "test", (320, 240), fps=10.0)


def _bound(sink: RecordSink, stats: PipelineStats | None = None) -> RecordSink:
    sink.bind(stats or PipelineStats(), lambda: None)
    return sink


def _results(n: int, size_wh: tuple[int, int] = (320, 240)) -> list[FrameResult]:
    """A file replayed every frame at 10 fps (media time 0, 100, 200 ms...)."""
    w, h = size_wh
    info = SourceInfo("t", "test", size_wh, fps=10.0)
    return [
        FrameResult(
            Frame(
                np.full((h, w, 3), i % 12 * 20, np.uint8),
                i,
                time.monotonic_ns(),
                info,
                media_ms=i * 100.0,
            ),
            "ssd",
            Detections.empty(),
        )
        for i in range(n)
    ]


def _decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    """(seconds, BGR image) of every frame a player gets from the file."""
    out = []
    with av.open(str(path)) as c:
        try:
            for frame in c.decode(video=0):
                assert frame.time is not None
                out.append((round(frame.time, 3), frame.to_ndarray(format="bgr24")))
        except av.error.FFmpegError:
            pass
    return out


def _codec(path: Path) -> str:
    with av.open(str(path)) as c:
        return str(c.streams.video[0].codec_context.name)


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".mp4", "h264"), (".avi", "mjpeg"), (".mkv", "mjpeg")]
)
def test_recording_plays_every_frame_after_close(tmp_path: Path, suffix: str, codec: str) -> None:
    path = tmp_path / f"r{suffix}"
    sink = _bound(RecordSink(str(path), Annotator(hud=False)))
    for r in _results(7):
        sink.handle(r)
    sink.close()
    assert _codec(path) == codec  # the format follows the file type
    frames = _decoded(path)
    assert len(frames) == 7 == sink.frames_written
    assert frames[0][1].shape == (240, 320, 3)
    assert [round(f.mean() / 20) for _, f in frames] == list(range(7))  # the content, in order


def test_nothing_is_created_before_bind_and_an_unused_file_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "r.mp4"
    sink = RecordSink(str(path), Annotator(hud=False))
    assert list(tmp_path.iterdir()) == []  # built: checked, nothing opened
    _bound(sink)
    assert path.exists()
    sink.close()  # no frame came: nothing worth keeping
    assert list(tmp_path.iterdir()) == []


def test_an_existing_recording_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "r.mkv"
    path.write_bytes(b"an earlier recording")
    sink = _bound(RecordSink(str(path), Annotator(hud=False)))
    for r in _results(3):
        sink.handle(r)
    sink.close()
    assert path.read_bytes() == b"an earlier recording"
    [new] = [p for p in tmp_path.iterdir() if p != path]
    assert new.name.startswith("r-") and new.name.endswith("Z.mkv")  # r-<start time in UTC>.mkv
    assert len(_decoded(new)) == 3


def test_jpeg_quality_sets_the_size(tmp_path: Path) -> None:
    sizes = []
    noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    for q in (30, 95):
        path = tmp_path / f"q{q}.mkv"
        sink = _bound(RecordSink(str(path), Annotator(hud=False), jpeg_quality=q))
        for i in range(3):
            sink.handle(FrameResult(Frame(noise, i, 0, REPLAY, media_ms=i * 100.0), "ssd", Detections.empty()))  # fmt: skip
        sink.close()
        assert len(_decoded(path)) == 3
        sizes.append(path.stat().st_size)
    assert sizes[1] > 1.5 * sizes[0]


_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult
from camera_app.sinks.overlay import Annotator
from camera_app.sinks.record import RecordSink
from camera_app.stats import PipelineStats
info = SourceInfo("t", "test", (320, 240), fps=10.0)
sink = RecordSink(sys.argv[1], Annotator(hud=False))
sink.bind(PipelineStats(), lambda: None)
noise = np.random.default_rng(0).integers(0, 255, (160, 320, 3), np.uint8)  # ~30 KB a frame
for i in range(40):
    image = np.full((240, 320, 3), (i % 12) * 20, np.uint8)
    image[:160] = noise
    sink.handle(FrameResult(Frame(image, i, 0, info, media_ms=i * 100.0), "ssd", Detections.empty()))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize(("suffix", "at_least"), [(".mp4", 30), (".mkv", 30), (".avi", 30)])
def test_a_recording_survives_a_hard_kill(tmp_path: Path, suffix: str, at_least: int) -> None:
    """Killed after 40 frames (4 s), no trailer written: an .mp4 keeps every
    fragment but the one being written (a key frame a second: frames 0-29)."""
    path = tmp_path / f"killed{suffix}"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == -signal.SIGKILL
    frames = _decoded(path)
    assert at_least <= len(frames) <= 40
    assert [round(f[170:].mean() / 20) for _, f in frames] == [i % 12 for i in range(len(frames))]


def test_recording_at_the_overlay_width(tmp_path: Path) -> None:
    path = tmp_path / "r.avi"
    sink = _bound(RecordSink(str(path), Annotator(hud=False, max_width=160)))
    for r in _results(3):
        sink.handle(r)
    sink.close()
    cap = cv2.VideoCapture(str(path))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("r.txt", "unsupported file type .txt"),
        ("nodir/r.mp4", "does not exist"),
        ("", "unsupported file type"),
        ("r.avi?codec=h264", "unsupported file type"),
    ],
)
def test_bad_recording_paths(tmp_path: Path, name: str, match: str) -> None:
    with pytest.raises(SinkError, match=match):
        RecordSink(str(tmp_path / name) if name else str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"path": "a.mp4", "dir": "recs"}, "dir: set path (one file) or dir (segments), not both"),
        ({"path": "a.webm"}, "path: unsupported file type .webm"),
        ({"path": "a.avi", "codec": "h264"}, "codec: .avi files cannot hold h264; use mjpeg"),
        ({"dir": "recs", "format": "avi", "codec": "libx264"}, "cannot hold h264"),
        ({"dir": ""}, 'dir: expected a folder path, got ""'),
    ],
)
def test_bad_settings_name_the_key(keys: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)):
        RecordConfig(**keys).validate()  # type: ignore[arg-type]


def _live_results(times_ms: list[int]) -> list[FrameResult]:
    """A live camera at 10 fps whose frames inference partly dropped."""
    info = SourceInfo("cam", "test", (64, 48), fps=10.0, live=True)
    t0 = time.monotonic_ns()
    return [
        FrameResult(
            Frame(np.full((48, 64, 3), i * 40, np.uint8), i, t0 + ms * 1_000_000, info),
            "ssd",
            Detections.empty(),
        )
        for i, ms in enumerate(times_ms)
    ]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_live_recordings_keep_capture_times(tmp_path: Path, suffix: str) -> None:
    """Drops (100 -> 500 ms, 600 -> 1000 ms) keep real time in every format."""
    path = tmp_path / f"live{suffix}"
    sink = _bound(RecordSink(str(path), Annotator(hud=False)))
    for r in _live_results([0, 100, 200, 500, 600, 1000]):
        sink.handle(r)
    sink.close()
    shown = [(t, round(f.mean() / 40)) for t, f in _decoded(path)]
    assert shown == [(0.0, 0), (0.1, 1), (0.2, 2), (0.5, 3), (0.6, 4), (1.0, 5)]


def test_replayed_files_follow_the_clip_not_the_inference_speed(tmp_path: Path) -> None:
    """Every-frame replays use the position in the file, continued across loops."""
    path = tmp_path / "replay.mkv"
    sink = _bound(RecordSink(str(path), Annotator(hud=False)))
    info = SourceInfo("clip", "test", (64, 48), fps=10.0)
    t0 = time.monotonic_ns()
    media = [0, 100, 200, 0, 100, 200]  # a 3-frame clip, looped
    for i, ms in enumerate(media):  # inference 1 s a frame: a slow Pi
        frame = Frame(np.full((48, 64, 3), i * 40, np.uint8), i, t0 + i * 10**9, info, media_ms=ms)
        sink.handle(FrameResult(frame, "ssd", Detections.empty()))
    sink.close()
    assert [t for t, _ in _decoded(path)] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_segments_in_a_folder_with_retention(tmp_path: Path) -> None:
    folder = tmp_path / "recs"  # created at bind
    config = RecordConfig(dir=str(folder), format="mkv", segment_s=1.0, max_bytes=1_000_000)
    sink = RecordSink.from_config(config, Annotator(hud=False))
    assert not folder.exists()
    _bound(sink)
    noise = np.random.default_rng(1).integers(0, 255, (240, 320, 3), np.uint8)  # ~50 KB a frame
    names: list[str] = []  # in the order the segments started
    for i in range(100):  # 10 s at 10 fps: 10 segments, about 5 MB
        sink.handle(FrameResult(Frame(noise, i, 0, REPLAY, media_ms=i * 100.0), "ssd", Detections.empty()))  # fmt: skip
        if sink.recorder.state().files > len(names):
            assert sink.recorder.path is not None
            names.append(sink.recorder.path.name)
    sink.close()
    # (all within a second of wall time here: a deleted segment's name is reused)
    kept = {p.name for p in folder.iterdir()}
    assert len(names) == 10 and kept == set(names[-len(kept) :])  # the newest kept
    segment = max(p.stat().st_size for p in folder.iterdir())
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 1_000_000 + segment
    assert 1 < len(kept) < 10
    assert all(len(_decoded(folder / n)) == 10 for n in kept)  # every kept file plays


def test_a_failed_write_never_raises_and_shows_in_the_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stats = PipelineStats()
    sink = _bound(RecordSink(str(tmp_path / "r.mp4"), Annotator(hud=False)), stats)
    results = _results(60)
    for r in results[:15]:
        sink.handle(r)
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_module.os, "write", full_disk)
    caplog.set_level(logging.ERROR)
    for r in results[15:]:
        sink.handle(r)  # never raises
    monkeypatch.setattr(files_module.os, "write", real_write)
    snap = stats.snapshot()
    health = snap.outputs["record"]
    assert not health.ok and "No space left on device (ENOSPC)" in health.detail
    assert snap.failed_outputs() == [f"record: {health.detail}"]
    assert 0 < health.written < 15  # what reached the file before the disk filled
    assert (
        len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    )  # once, not per frame
    sink.close()
    assert len(_decoded(tmp_path / "r.mp4")) == health.written  # counted honestly


def test_a_hardware_encoder_that_does_not_open_fails_the_start(tmp_path: Path) -> None:
    if "h264_v4l2m2m" not in av.codecs_available:
        pytest.skip("this FFmpeg has no h264_v4l2m2m")
    if hardware_h264_opens((320, 240), 10.0):
        pytest.skip("the hardware encoder opens here (a Pi 4)")
    stats = PipelineStats()
    stats.source = {"size_wh": [320, 240], "fps": 10.0}
    options = EncoderOptions(codec="h264_v4l2m2m")
    sink = RecordSink(str(tmp_path / "r.mp4"), Annotator(hud=False), options=options)
    with pytest.raises(SinkError, match="h264_v4l2m2m encoder does not open here"):
        sink.bind(stats, lambda: None)  # a start-up check: exit 2
    sink.close()
    assert list(tmp_path.iterdir()) == []
