"""The snapshots sink: whole JPEGs at the events' paths, drawing and crop, retention, failures."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.events import EventsConfig, EventsProcessor
from camera_app.errors import ConfigError, SinkError
from camera_app.events import ObjectEvent, SnapshotSource
from camera_app.frames import Frame, SourceInfo
from camera_app.recording.health import WriteHealth
from camera_app.results import Detections, FrameResult
from camera_app.sinks.snapshots import SnapshotsConfig, SnapshotsSink
from camera_app.stats import PipelineStats
from camera_app.validation import build

W, H = 320, 240
INFO = SourceInfo("test.mp4", "video", (W, H))


def frame(frame_id: int, shade: int = 90) -> Frame:
    image = np.full((H, W, 3), shade, np.uint8)
    image[60:180, 100:160] = (30, 60, 200)  # the "object"
    return Frame(image, frame_id, frame_id * 100_000_000, INFO, media_ms=frame_id * 100.0)


def event(
    kind: str,
    event_id: str,
    path: str | None,
    source_frame: Frame | None,
    changes: tuple[str, ...] = (),
) -> ObjectEvent:
    box = (100.0, 60.0, 160.0, 180.0)
    return ObjectEvent(
        type=kind,  # type: ignore[arg-type]
        id=event_id,
        label="person",
        score=0.8,
        top_score=0.8,
        box_xyxy=box,
        frame_id=0 if source_frame is None else source_frame.frame_id,
        start_epoch_ns=0,
        snapshot=path,
        changes=changes,
        snapshot_source=None if source_frame is None else SnapshotSource(source_frame, box, 0.8),
    )


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def open_sink(directory: Path, clock: Clock | None = None, **kw: object) -> SnapshotsSink:
    config = SnapshotsConfig(dir=str(directory), **kw)  # type: ignore[arg-type]
    sink = SnapshotsSink(config, health=WriteHealth("snapshots", clock=clock or Clock()))
    sink.bind(PipelineStats(), lambda: None)
    return sink


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, f"{path} is not a whole JPEG"
    return img


def test_writes_the_snapshot_of_new_update_and_end_at_the_events_path(tmp_path: Path) -> None:
    sink = open_sink(tmp_path)
    path = str(tmp_path / "1.000-1.jpg")
    sink.on_event(event("new", "1.000-1", path, frame(1, shade=50)))
    first = read(Path(path))
    assert first.shape == (H, W, 3)
    sink.on_event(event("update", "1.000-1", path, frame(2, shade=200), ("snapshot",)))
    assert abs(int(read(Path(path))[5, 5, 0]) - 200) < 8  # replaced by the better frame
    sink.on_event(event("end", "1.000-1", path, frame(2, shade=200)))
    sink.close()
    assert sorted(os.listdir(tmp_path)) == ["1.000-1.jpg"]  # no temporary files left
    assert sink.output_health().written == 2  # the end's picture was already on disk


def test_boxes_clean_copy_and_crop(tmp_path: Path) -> None:
    sink = open_sink(tmp_path, clean=True, crop=True)
    path = tmp_path / "1.000-2.jpg"
    sink.on_event(event("new", "1.000-2", str(path), frame(1)))
    sink.close()
    boxed, clean = read(path), read(tmp_path / "1.000-2-clean.jpg")
    assert boxed.shape == clean.shape
    assert boxed.shape[0] < H and boxed.shape[1] < W  # cropped around the box
    assert boxed.shape[0] >= 120 and boxed.shape[1] >= 60  # ...but the whole box is in it
    green = (boxed[:, :, 1] > 200) & (boxed[:, :, 0] < 80) & (boxed[:, :, 2] < 80)
    assert green.sum() > 100  # the box is drawn
    assert not ((clean[:, :, 1] > 200) & (clean[:, :, 0] < 80)).any()


def test_clean_only(tmp_path: Path) -> None:
    sink = open_sink(tmp_path, boxes=False, clean=True)
    sink.on_event(event("new", "1.000-3", str(tmp_path / "1.000-3.jpg"), frame(1)))
    sink.close()
    assert os.listdir(tmp_path) == ["1.000-3.jpg"]


def test_an_existing_file_from_an_earlier_run_is_never_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "1.000-4.jpg"
    path.write_bytes(b"earlier")
    sink = open_sink(tmp_path)
    sink.on_event(event("new", "1.000-4", str(path), frame(1)))
    sink.on_event(event("new", "1.000-5", str(tmp_path / "1.000-5.jpg"), frame(1)))
    sink.close()
    assert path.read_bytes() == b"earlier"
    assert read(tmp_path / "1.000-5.jpg").size
    assert sum("not overwriting" in r.getMessage() for r in caplog.records) == 1


def test_retention_deletes_oldest_first_never_an_open_events_file_nor_other_files(
    tmp_path: Path,
) -> None:
    old = time.time() - 3600
    for i in range(5):
        p = tmp_path / f"{i}.000-{i}.jpg"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (old + i, old + i))
    (tmp_path / "holiday.jpg").write_bytes(b"not ours")
    sink = open_sink(tmp_path, max_count=3)
    assert sorted(os.listdir(tmp_path)) == ["2.000-2.jpg", "3.000-3.jpg", "4.000-4.jpg", "holiday.jpg"]  # fmt: skip
    open_path = str(tmp_path / "9.000-9.jpg")
    sink.on_event(event("new", "9.000-9", open_path, frame(1)))
    for i in range(10, 14):
        snap = str(tmp_path / f"{i}.000-{i}.jpg")
        sink.on_event(event("new", f"{i}.000-{i}", snap, frame(i)))
        sink.on_event(event("end", f"{i}.000-{i}", snap, frame(i)))
    sink.close()
    assert sorted(os.listdir(tmp_path)) == [
        "12.000-12.jpg", "13.000-13.jpg", "9.000-9.jpg", "holiday.jpg",
    ]  # fmt: skip


def test_retention_by_age_and_bytes(tmp_path: Path) -> None:
    stale = tmp_path / "1.000-1.jpg"
    stale.write_bytes(b"x")
    os.utime(stale, (time.time() - 3 * 86400,) * 2)
    for i in range(2, 6):
        (tmp_path / f"{i}.000-{i}.jpg").write_bytes(b"x" * 60_000)
        os.utime(tmp_path / f"{i}.000-{i}.jpg", (time.time() - 100 + i,) * 2)
    open_sink(tmp_path, retain_days=2, max_bytes=150_000).close()
    assert sorted(os.listdir(tmp_path)) == ["4.000-4.jpg", "5.000-5.jpg"]


def test_a_failed_write_is_reported_once_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sink = open_sink(tmp_path, clock)
    real_replace = os.replace
    broken = {"on": True}

    def replace(src: object, dst: object) -> None:
        if broken["on"]:
            raise OSError(30, "Read-only file system")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    caplog.set_level(logging.ERROR)
    for i in range(5):
        sink.on_event(event("new", f"1.000-{i}", str(tmp_path / f"1.000-{i}.jpg"), frame(i)))
    assert os.listdir(tmp_path) == []  # nothing, not even temporary files
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    broken["on"] = False
    clock.t = 10.0
    sink.idle()
    assert sorted(os.listdir(tmp_path)) == [f"1.000-{i}.jpg" for i in range(5)]
    sink.close()


def test_every_snapshot_an_event_references_exists_after_close(tmp_path: Path) -> None:
    sink = open_sink(tmp_path)
    proc = EventsProcessor(EventsConfig(snapshot_interval_s=0.5), str(tmp_path), lost_after_s=0.5)
    emitted: list[ObjectEvent] = []

    def emit(e: ObjectEvent) -> None:
        emitted.append(e)
        sink.on_event(e)

    proc.bind(ProcessorContext(emit=emit, every_frame=True))
    for i in range(40):
        tids = [t for t in (1, 2, 3) if 10 * (t - 1) <= i < 10 * (t - 1) + 15]
        det = Detections(
            np.array([[100 + i, 60, 160 + i, 180]] * len(tids), np.float32).reshape(-1, 4),
            np.full(len(tids), 0.5 + i / 100, np.float32),
            np.zeros(len(tids), np.int32),
            tracker_id=np.array(tids, np.int64),
        )
        proc.process(FrameResult(frame(i), "ssd", det))
    proc.close()
    sink.close()
    referenced = {e.snapshot for e in emitted}
    assert len(referenced) == 3 and all(p is not None for p in referenced)
    for p in referenced:
        assert read(Path(str(p))).shape == (H, W, 3)
    assert {e.type for e in emitted} == {"new", "update", "end"}


def test_config() -> None:
    with pytest.raises(ConfigError, match="clean: expected true when boxes = false"):
        build(SnapshotsConfig, {"boxes": False})
    with pytest.raises(ConfigError, match="quality: expected an integer from 1 to 100"):
        build(SnapshotsConfig, {"quality": 0})
    with pytest.raises(SinkError, match=r"\[snapshots\] dir"):
        SnapshotsSink(SnapshotsConfig())


def test_component_hooks(tmp_path: Path) -> None:
    from camera_app.sinks import snapshots

    assert snapshots.build(SnapshotsConfig(), None) is None  # type: ignore[arg-type]
    sink = snapshots.build(SnapshotsConfig(dir=str(tmp_path)), None)  # type: ignore[arg-type]
    assert isinstance(sink, SnapshotsSink)
    assert snapshots.describe(SnapshotsConfig(dir="/s")) == (
        "snapshots /s (at most 1000 files, 500 MB, 14 days)"
    )
    assert [f.flag for f in snapshots.FLAGS] == ["--snapshots"]
