"""The events stage on constructed tracks: new/update/end, ids, times, snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.events import EventsConfig, EventsProcessor
from camera_app.events import ObjectEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.results import Detections, FrameResult

W, H = 200, 100
INFO = SourceInfo("test.mp4", "video", (W, H), fps=10.0)
T0_NS = 5_000_000_000
NAMES = {0: "person", 2: "car"}


class Labels:
    def name(self, class_id: int) -> str | None:
        return NAMES.get(class_id)


@dataclass
class Obj:
    tid: int
    box: tuple[float, float, float, float] = (50, 20, 90, 80)
    score: float = 0.8
    tp: bool = True
    class_id: int = 0
    stationary: bool = False
    zones: tuple[str, ...] = ()
    crossings: tuple[tuple[str, str], ...] = ()
    track_score: float | None = None
    age_s: float = 0.0


@dataclass
class Run:
    proc: EventsProcessor
    events: list[ObjectEvent] = field(default_factory=list)
    max_disappeared_s: float | None = None
    """Publish the tracker's ``track_age_s`` and ``track_expires_s`` columns."""

    def frame(self, frame_id: int, *objs: Obj) -> None:
        n = len(objs)

        def col(values: list[Any], dtype: Any = None) -> np.ndarray:
            if dtype is not None:
                return np.array(values, dtype)
            out = np.empty(n, dtype=object)
            for i, v in enumerate(values):
                out[i] = v
            return out

        det = Detections(
            np.array([o.box for o in objs], np.float32).reshape(-1, 4),
            np.array([o.score for o in objs], np.float32),
            np.array([o.class_id for o in objs], np.int32),
            tracker_id=np.array([o.tid for o in objs], np.int64),
            data={
                "true_positive": col([o.tp for o in objs], bool),
                "stationary": col([o.stationary for o in objs], bool),
                "track_score": col(
                    [o.score if o.track_score is None else o.track_score for o in objs],
                    np.float32,
                ),
                "zones": col([o.zones for o in objs]),
                "crossings": col([o.crossings for o in objs]),
            },
        )
        if self.max_disappeared_s is not None:
            det = det.with_columns(
                track_age_s=np.array([o.age_s for o in objs], np.float32),
                track_expires_s=np.full(n, frame_id / 10 + self.max_disappeared_s),
            )
        image = np.full((H, W, 3), frame_id % 256, np.uint8)
        frame = Frame(
            image, frame_id, T0_NS + frame_id * 100_000_000, INFO, media_ms=frame_id * 100.0
        )
        self.proc.process(FrameResult(frame, "ssd", det, labels=Labels()))


def start(
    config: EventsConfig | None = None,
    snapshots_dir: str | None = None,
    every_frame: bool = True,
    lost_after_s: float = 1.0,
) -> Run:
    run = Run(EventsProcessor(config, snapshots_dir, lost_after_s=lost_after_s))
    run.proc.bind(ProcessorContext(emit=run.events.append, every_frame=every_frame))
    return run


def test_with_the_tracker_columns_the_event_starts_at_the_first_match_and_ends_with_the_track() -> (
    None
):
    run = start(lost_after_s=0.1)  # not used: the tracker says when a track is gone
    run.max_disappeared_s = 2.0
    for i in range(10, 15):
        run.frame(i, Obj(1, age_s=(i - 7) / 10))  # first matched at frame 7, confirmed at 10
    for i in range(15, 35):  # expires at 3.4 s; matched at 3.5 s before the tracker prunes
        run.frame(i)
    run.frame(35, Obj(1, age_s=2.8))
    for i in range(36, 57):
        run.frame(i)
    assert [(e.type, e.id) for e in run.events] == [("new", "0.700-1"), ("end", "0.700-1")]
    end = run.events[1]
    assert end.start_media_ms == pytest.approx(700.0) and end.end_media_ms == 3500.0
    assert end.timestamp_ns == T0_NS + 56 * 100_000_000  # the first frame after 3.5 + 2.0 s
    assert end.end_epoch_ns is not None
    assert end.end_epoch_ns - end.start_epoch_ns == 2_800_000_000


def kinds(events: list[ObjectEvent]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.type, e.id, e.changes) for e in events]


def test_new_when_a_true_positive_end_when_lost_with_times_from_the_track() -> None:
    run = start()
    run.frame(0, Obj(1, tp=False))
    run.frame(1, Obj(1, tp=False, score=0.9))
    run.frame(2, Obj(1, tp=True, score=0.7))
    for i in range(3, 8):
        run.frame(i, Obj(1, score=0.75))
    for i in range(8, 20):  # gone: lost after 1.0 s without it
        run.frame(i)
    assert kinds(run.events) == [("new", "0.000-1", ()), ("end", "0.000-1", ())]
    new, end = run.events
    assert new.start_media_ms == 0.0 and new.end_media_ms is None and new.frame_id == 2
    assert end.start_media_ms == 0.0 and end.end_media_ms == 700.0 and end.frame_id == 7
    assert new.score == pytest.approx(0.9) and end.label == "person"
    assert end.end_epoch_ns is not None
    assert end.end_epoch_ns - end.start_epoch_ns == 700_000_000  # one clock offset
    assert end.timestamp_ns == T0_NS + 18 * 100_000_000  # raised 1.0 s after the last sight


def test_a_confirmed_track_that_never_becomes_a_true_positive_raises_nothing() -> None:
    run = start()
    for i in range(10):
        run.frame(i, Obj(3, tp=False), Obj(-1))
    run.proc.close()
    assert run.events == []


def test_a_track_missing_for_less_than_lost_after_s_does_not_split_its_event() -> None:
    run = start(lost_after_s=1.0)
    for i in range(5):
        run.frame(i, Obj(1))
    for i in range(5, 14):  # 0.9 s without it
        run.frame(i)
    for i in range(14, 18):
        run.frame(i, Obj(1))
    run.proc.close()
    assert [e.type for e in run.events] == ["new", "end"]
    assert run.events[1].end_media_ms == 1700.0


def test_zone_line_and_stationary_changes_are_updates_with_their_reason() -> None:
    run = start()
    run.frame(0, Obj(1))
    run.frame(1, Obj(1, zones=("porch",)))
    run.frame(2, Obj(1, zones=("porch",)))
    run.frame(3, Obj(1, zones=("porch",), crossings=(("door", "in"),)))
    run.frame(4, Obj(1, zones=("porch", "hall"), stationary=True))
    run.frame(5, Obj(1, zones=("hall",), stationary=True))
    run.frame(6, Obj(1, stationary=False))
    run.proc.close()
    assert [(e.type, e.changes) for e in run.events] == [
        ("new", ()),
        ("update", ("zone",)),
        ("update", ("line",)),
        ("update", ("zone", "stationary")),
        ("update", ("zone",)),
        ("update", ("zone", "stationary")),
        ("end", ()),
    ]
    last_update, end = run.events[-2], run.events[-1]
    assert last_update.zones == () and last_update.entered_zones == ("porch", "hall")
    assert [(c.line, c.direction) for c in end.crossed_lines] == [("door", "in")]
    assert run.events[3].stationary and not last_update.stationary


def test_close_ends_every_open_event_in_tracker_id_order() -> None:
    run = start()
    run.frame(0, Obj(2), Obj(1, box=(120, 10, 160, 90)), Obj(3, tp=False))
    assert run.proc.open_events == 2
    run.proc.close()
    assert [(e.type, e.tracker_id) for e in run.events] == [
        ("new", 2), ("new", 1), ("end", 1), ("end", 2),
    ]  # fmt: skip
    assert run.proc.open_events == 0
    run.proc.close()  # twice: nothing more
    assert len(run.events) == 4


def test_ids_use_media_time_in_replay_and_epoch_time_live() -> None:
    replay = start()
    replay.frame(12, Obj(7))
    assert replay.events[0].id == "1.200-7"
    live = start(every_frame=False)
    live.frame(12, Obj(7))
    event = live.events[0]
    assert event.id == f"{event.start_epoch_ns / 1e9:.3f}-7"
    assert abs(event.start_epoch_ns / 1e9 - float(event.id.split("-")[0])) < 0.001


def test_two_replays_give_the_same_events_apart_from_wall_times() -> None:
    def replay() -> list[dict[str, object]]:
        run = start(snapshots_dir="/nonexistent/snaps")
        for i in range(30):
            objs = [Obj(1, box=(10 + 3 * i, 20, 50 + 3 * i, 80), score=0.5 + 0.01 * i)]
            if 5 <= i < 15:
                objs.append(Obj(2, zones=("z",) if i > 8 else ()))
            run.frame(i, *objs)
        run.proc.close()
        out = []
        for e in run.events:
            d = e.to_json()
            del d["start_time"], d["end_time"]
            out.append(d)
        return out

    first, second = replay(), replay()
    assert first == second
    assert len(first) >= 5


def test_the_best_snapshot_avoids_the_frame_edge_and_is_handed_out_with_new_and_end(
    tmp_path: Path,
) -> None:
    run = start(EventsConfig(snapshot_interval_s=100), snapshots_dir=str(tmp_path))
    run.frame(0, Obj(1, box=(0, 20, 40, 80), score=0.95))  # touches the left edge
    run.frame(1, Obj(1, box=(20, 20, 60, 80), score=0.6))
    run.frame(2, Obj(1, box=(30, 20, 70, 80), score=0.7))
    run.frame(3, Obj(1, box=(150, 20, W, 80), score=0.99))  # right edge
    run.proc.close()
    new, end = run.events
    assert new.snapshot == end.snapshot == str(tmp_path / "0.000-1.jpg")
    assert new.snapshot_source is not None and new.snapshot_source.frame.frame_id == 0
    assert end.snapshot_source is not None and end.snapshot_source.frame.frame_id == 2
    assert end.snapshot_source.xyxy == (30, 20, 70, 80)


def test_snapshot_only_updates_are_rate_limited_and_stop_while_stationary(
    tmp_path: Path,
) -> None:
    run = start(EventsConfig(snapshot_interval_s=1.0), snapshots_dir=str(tmp_path))
    for i in range(40):  # the score improves on every frame for 4 s
        run.frame(i, Obj(1, score=0.5 + 0.01 * i, stationary=i >= 25))
    run.proc.close()
    updates = [e for e in run.events if e.type == "update"]
    snapshot_updates = [e.frame_id for e in updates if e.changes == ("snapshot",)]
    assert snapshot_updates == [10, 20]  # at most one a second, none once stationary
    stationary = [e for e in updates if "stationary" in e.changes]
    assert len(stationary) == 1 and "snapshot" in stationary[0].changes  # carried along
    assert run.events[-1].snapshot_source is not None
    assert run.events[-1].snapshot_source.frame.frame_id == 39


def test_without_snapshots_there_are_no_snapshot_updates_nor_frames_held() -> None:
    run = start(EventsConfig(snapshot_interval_s=0))
    for i in range(20):
        run.frame(i, Obj(1, score=0.5 + 0.01 * i))
    run.proc.close()
    assert [e.type for e in run.events] == ["new", "end"]
    assert all(e.snapshot is None and e.snapshot_source is None for e in run.events)


def test_a_snapshot_name_left_by_an_earlier_run_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / "0.000-1.jpg").write_bytes(b"earlier run")
    run = start(snapshots_dir=str(tmp_path))
    run.frame(0, Obj(1))
    assert run.events[0].snapshot == str(tmp_path / "0.000-1-1.jpg")


def test_disabled_raises_nothing() -> None:
    run = start(EventsConfig(enabled=False))
    run.frame(0, Obj(1))
    run.proc.close()
    assert run.events == []


def test_events_serialise_to_the_documented_json() -> None:
    run = start()
    run.frame(3, Obj(1, zones=("porch",), crossings=(("door", "out"),), track_score=0.66))
    run.proc.close()
    new, end = (e.to_json() for e in run.events)
    assert json.loads(json.dumps(new)) == new
    assert new["type"] == "new" and new["id"] == "0.300-1" and new["end_time"] is None
    assert new["zones"] == ["porch"] and new["crossed_lines"] == [
        {"line": "door", "direction": "out"}
    ]
    assert new["top_score"] == pytest.approx(0.66, abs=1e-4)
    assert end["type"] == "end" and end["end_time"].endswith("Z") and end["zones"] == []
    assert end["start_media_ms"] == 300.0 and end["end_media_ms"] == 300.0


def test_built_from_the_config_sections() -> None:
    from types import SimpleNamespace

    from camera_app.analysis import events as events_module
    from camera_app.components import BuildContext
    from camera_app.config import AppConfig
    from camera_app.stats import PipelineStats

    def ctx(**sections: object) -> BuildContext:
        config = AppConfig()
        for name, value in sections.items():
            config = config.with_section(name, value)
        return BuildContext(config, PipelineStats(), {})

    tracker = SimpleNamespace(enabled=True, max_disappeared_s=3.5)
    snapshots = SimpleNamespace(dir="/var/lib/camera-app/snapshots")
    proc = events_module.build(EventsConfig(), ctx(tracker=tracker, snapshots=snapshots))
    assert proc is not None
    assert proc.lost_after_s == 3.5 and proc.snapshots_dir == "/var/lib/camera-app/snapshots"
    assert events_module.build(EventsConfig(enabled=False), ctx()) is None
    off = SimpleNamespace(enabled=False, max_disappeared_s=2.0)
    assert events_module.build(EventsConfig(), ctx(tracker=off)) is None
    # absent [tracker] enabled: the stage runs when something uses tracked objects
    assert events_module.build(EventsConfig(), ctx()) is None
    logged = EventsConfig(path="events.jsonl")
    plain = events_module.build(logged, ctx(events=logged))
    assert plain is not None and plain.snapshots_dir is None
