"""Recorded video replay and image folders as sources."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import SourceError
from camera_app.sources import SourceOptions, open_source, source_kind
from camera_app.sources.images import ImageFolderSource
from camera_app.sources.video import VideoFileSource


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


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "missing.mp4", "video file not found"),
        (lambda d: d, "not a file"),
        (lambda d: (d / "x.mp4").write_text("no video") and d / "x.mp4", "cannot be opened"),
    ],
)
def test_bad_video_files(tmp_path: Path, make: object, match: str) -> None:
    with pytest.raises(SourceError, match=match):
        VideoFileSource(make(tmp_path)).start()  # type: ignore[operator]


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


def _write_images(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"img_{i:02d}.png"), np.full((20, 30, 3), i * 10, np.uint8))


def test_image_folder_in_name_order_skipping_unreadable(tmp_path: Path) -> None:
    _write_images(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "img_01b.png").write_bytes(b"not a png")
    src = ImageFolderSource(str(tmp_path / "imgs"))
    src.start()
    values = []
    while (f := src.read()) is not None:
        values.append(int(f.image[0, 0, 0]))
    assert values == [0, 10, 20]


def test_image_glob_loops(tmp_path: Path) -> None:
    _write_images(tmp_path / "imgs", 2)
    spec = str(tmp_path / "imgs" / "*.png")
    assert source_kind(spec) == "images"
    src = open_source(spec, SourceOptions(loop=True))
    src.start()
    assert [int(src.read().image[0, 0, 0]) for _ in range(5)] == [0, 10, 0, 10, 0]  # type: ignore[union-attr]


def test_folder_of_unreadable_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(SourceError, match="none of its 1 files"):
        ImageFolderSource(str(tmp_path)).start()
