"""Recorded video replay (camera_app/sources/video.py)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from camera_app.errors import EXIT_FAILED, EXIT_USAGE, SourceError, SourceLostError
from camera_app.sources.video import VideoFileSource
from camera_app.sources.video_readers import AvReader


def test_every_frame_reads_the_whole_file_with_media_positions(videos_dir: Path) -> None:
    src = VideoFileSource(videos_dir / "head-pose-face-detection-female.gif")
    info = src.start()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.stop()
    assert not info.live and info.size_wh == (480, 270) and info.fps == pytest.approx(12.5)
    assert [f.frame_id for f in frames] == list(range(23))
    assert frames[1].media_ms == pytest.approx(80.0)
    assert all(f.image.shape == (270, 480, 3) for f in frames)


def test_loop_keeps_counting_ids_and_restarts_media_time(videos_dir: Path) -> None:
    src = VideoFileSource(videos_dir / "head-pose-face-detection-female.gif", loop=True)
    src.start()
    frames = [src.read() for _ in range(30)]
    src.stop()
    assert [f.frame_id for f in frames if f] == list(range(30))
    assert frames[23] is not None and frames[23].media_ms == 0.0


def test_frames_reuse_buffers_only_once_released(videos_dir: Path) -> None:
    path = videos_dir / "bottle-detection.mp4"
    cap = cv2.VideoCapture(str(path))
    reference = [cap.read()[1] for _ in range(40)]
    cap.release()
    src = VideoFileSource(path)
    src.start()
    held = [src.read() for _ in range(10)]  # frames still in queues and sinks
    for _ in range(30):  # frames every consumer has released
        frame = src.read()
        assert frame is not None
        assert np.array_equal(frame.image, reference[frame.frame_id])
    src.stop()
    for frame in held:  # decoding later frames did not write into these
        assert frame is not None
        assert np.array_equal(frame.image, reference[frame.frame_id])
    assert len({id(f.image) for f in held if f is not None}) == 10
    # the first frame is start()'s own; after the held ones, released ones were reused
    assert src._pool.allocations <= 11


def test_realtime_is_live_and_paced(videos_dir: Path) -> None:
    src = VideoFileSource(videos_dir / "one-by-one-person-detection.mp4", mode="realtime")
    info = src.start()
    frames = [src.read() for _ in range(4)]
    src.stop()
    assert info.live
    stamps = [f.timestamp_ns for f in frames if f]
    gaps_ms = np.diff(stamps) / 1e6
    assert gaps_ms.mean() >= 90  # 10 fps file: ~100 ms apart, never faster


def _mp4_header_only(d: Path) -> Path:
    path = d / "cut.mp4"
    path.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(200))  # no moov atom
    return path


def _truncated(d: Path, videos: Path) -> Path:
    path = d / "truncated.mp4"
    path.write_bytes((videos / "bottle-detection.mp4").read_bytes()[:30_000])
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d, v: d / "missing.mp4", "video file not found"),
        (lambda d, v: d, "not a file"),
        (
            lambda d, v: (d / "x.mp4").write_text("no video") and d / "x.mp4",
            "cannot be opened: it is text",
        ),
        (lambda d, v: (d / "zero.mp4").write_bytes(b"") or d / "zero.mp4", "the file is empty"),
        (lambda d, v: _mp4_header_only(d), "cannot be opened: moov atom not found"),
        (_truncated, "cannot be opened: moov atom not found"),
    ],
    ids=["missing", "folder", "text", "empty", "header-only", "truncated"],
)
def test_bad_video_files_are_one_line_usage_errors(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, videos_dir: Path, make: Any, match: str
) -> None:
    with pytest.raises(SourceError, match=match) as excinfo:
        VideoFileSource(make(tmp_path, videos_dir)).start()
    assert excinfo.value.exit_code == EXIT_USAGE
    assert "\n" not in str(excinfo.value)
    assert capfd.readouterr().err == ""  # FFmpeg's "moov atom not found" is not printed


def test_a_file_that_vanishes_while_looping_is_a_run_time_failure(
    tmp_path: Path, videos_dir: Path
) -> None:
    path = tmp_path / "clip.gif"
    shutil.copy(videos_dir / "head-pose-face-detection-female.gif", path)
    src = VideoFileSource(path, loop=True)
    src.start()
    for _ in range(23):  # the whole file
        assert src.read() is not None
    path.unlink()
    with pytest.raises(SourceLostError, match="reopening it to loop") as excinfo:
        src.read()
    assert excinfo.value.exit_code == EXIT_FAILED
    assert src.read() is None  # after the failure: ended, not "read before start"
    src.stop()


def test_read_before_start_is_a_bug_not_a_user_error(videos_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="read before start"):
        VideoFileSource(videos_dir / "bottle-detection.mp4").read()


def test_stop_while_another_thread_reads_does_not_crash(videos_dir: Path) -> None:
    """Releasing the capture inside a read aborted the process in FFmpeg."""
    for _ in range(30):
        src = VideoFileSource(videos_dir / "one-by-one-person-detection.mp4", loop=True)
        src.start()
        started = threading.Event()

        def reader(src: VideoFileSource, started: threading.Event) -> None:
            started.set()
            while src.read() is not None:
                pass

        t = threading.Thread(target=reader, args=(src, started))
        t.start()
        started.wait(2)
        src.stop()
        t.join(5)
        assert not t.is_alive()


def test_pyav_frames_carry_the_y_plane_and_convert_only_when_read(videos_dir: Path) -> None:
    src = VideoFileSource(videos_dir / "bottle-detection.mp4")
    src.start()
    frames = [src.read() for _ in range(10)]
    assert src.decoder == "pyav"
    assert all(f is not None and not f.image_ready for f in frames)
    assert all(f is not None and f.luma is not None and f.luma.shape == (360, 640) for f in frames)
    assert all(f is not None and f.size_wh == (640, 360) for f in frames)
    assert src._bgr.conversions == 0
    assert frames[4] is not None and frames[4].image.shape == (360, 640, 3)
    assert src._bgr.conversions == 1
    src.stop()


def test_a_file_pyav_cannot_open_goes_through_opencv(
    monkeypatch: pytest.MonkeyPatch, videos_dir: Path
) -> None:
    def refuse(*args: object) -> None:
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(AvReader, "__init__", refuse)
    path = videos_dir / "head-pose-face-detection-female.gif"
    src = VideoFileSource(path, loop=True)
    info = src.start()
    frames = [src.read() for _ in range(25)]  # and loops
    src.stop()
    assert src.decoder == "opencv" and info.size_wh == (480, 270) and info.frame_count == 23
    assert all(f is not None and f.image_ready and f.luma is None for f in frames)
    assert [f.frame_id for f in frames if f] == list(range(25))


def test_pyav_and_opencv_report_the_same_file_alike(
    monkeypatch: pytest.MonkeyPatch, videos_dir: Path
) -> None:
    path = videos_dir / "bottle-detection.mp4"
    with VideoFileSource(path) as src:
        assert isinstance(src, VideoFileSource)
        pyav_info = src.info
    monkeypatch.setattr(AvReader, "__init__", lambda *a: (_ for _ in ()).throw(OSError("no")))
    with VideoFileSource(path) as src:
        assert isinstance(src, VideoFileSource) and src.decoder == "opencv"
        assert src.info == pyav_info
