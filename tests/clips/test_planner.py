"""The planner: which clip each event is in, decided when the event starts."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from camera_app.clips.planner import ClipPlanner, ClipWindow

WALL = 1_790_000_000.0  # 2026-09-21T14-13-20Z


def planner(tmp_path: Path, **kwargs: float) -> ClipPlanner:
    return ClipPlanner(tmp_path, wall_clock=lambda: WALL, **kwargs)


def test_a_clip_is_created_when_its_first_event_starts_named_by_its_start(
    tmp_path: Path,
) -> None:
    p = planner(tmp_path, pre_capture_s=5, post_capture_s=5)
    # raised at analysis time 110 s, started at 108 s: the clip starts at 103 s,
    # 7 s before the wall clock's now
    path = p.open("a", start_s=108.0, now_s=110.0)
    assert path == str(tmp_path / "2026-09-21T14-13-13Z.mp4")
    assert os.path.getsize(path) == 0  # reserved: the name is the event's for sure
    assert p.window(path) == ClipWindow(103.0, 108.0, None)  # open while the event is
    p.close("a", end_s=120.0)
    assert p.window(path) == ClipWindow(103.0, 108.0, 125.0)


def test_overlapping_events_share_one_clip_and_it_ends_after_the_last(tmp_path: Path) -> None:
    p = planner(tmp_path, pre_capture_s=5, post_capture_s=5)
    a = p.open("a", 100.0, 101.0)
    b = p.open("b", 110.0, 111.0)  # a is still open
    p.close("a", 115.0)
    c = p.open("c", 118.0, 119.0)  # b is still open
    p.close("b", 130.0)
    p.close("c", 125.0)
    assert a == b == c
    assert p.window(a) == ClipWindow(95.0, 100.0, 135.0)
    assert len(list(tmp_path.iterdir())) == 1


def test_an_event_raised_within_the_post_roll_joins_later_ones_do_not(tmp_path: Path) -> None:
    p = planner(tmp_path, pre_capture_s=2, post_capture_s=3)
    a = p.open("a", 10.0, 10.5)
    p.close("a", 20.0)  # the clip runs until 23 s
    b = p.open("b", 22.0, 23.0)  # raised at 23 s: still recording
    p.close("b", 30.0)
    c = p.open("c", 32.5, 33.5)  # raised at 33.5 s > 33 s: a new clip from 30.5 s
    assert a == b != c
    assert p.window(a) == ClipWindow(8.0, 10.0, 33.0)
    assert p.window(c) == ClipWindow(30.5, 32.5, None)


def test_no_event_joins_a_clip_older_than_max_clip_s(tmp_path: Path) -> None:
    p = planner(tmp_path, pre_capture_s=5, post_capture_s=5, max_clip_s=60)
    a = p.open("a", 100.0, 100.0)  # the clip starts at 95 s
    b = p.open("b", 150.0, 154.9)  # 59.9 s in: joins
    c = p.open("c", 154.0, 155.0)  # 60 s in: its own clip, though a is open
    assert a == b != c
    assert p.window(c) == ClipWindow(149.0, 154.0, None)


def test_names_taken_by_earlier_runs_are_never_reused(tmp_path: Path) -> None:
    (tmp_path / "2026-09-21T14-13-15Z.mp4").write_bytes(b"earlier run")
    p = planner(tmp_path, pre_capture_s=5)
    path = p.open("a", 10.0, 10.0)
    assert path.endswith("2026-09-21T14-13-15Z-1.mp4")
    assert (tmp_path / "2026-09-21T14-13-15Z.mp4").read_bytes() == b"earlier run"


def test_the_sink_takes_the_file_once_and_unused_ones_are_removed(tmp_path: Path) -> None:
    p = planner(tmp_path, post_capture_s=1)
    a = p.open("a", 10.0, 10.0)
    out = p.take_file(a)
    assert out is not None and str(out.path) == a
    assert p.take_file(a) is None
    out.release()
    p.close("a", 11.0)
    b = p.open("b", 100.0, 100.0)
    assert Path(b).exists() and p.reserved_paths() == [Path(a), Path(b)]
    p.discard_unused()  # the run stopped before b was written: nothing left behind
    assert not Path(b).exists() and Path(a).exists()


def test_released_clips_are_forgotten(tmp_path: Path) -> None:
    p = planner(tmp_path, post_capture_s=1)
    a = p.open("a", 10.0, 10.0)
    p.release(a)  # an event is still open in it: kept
    assert p.window(a) is not None
    p.close("a", 12.0)
    p.release(a)
    assert p.window(a) is not None  # the current clip: a new event may still join
    b = p.open("b", 50.0, 50.0)
    assert b != a and p.window(a) is None and p.reserved_paths() == [Path(b)]


def test_closing_an_unknown_event_is_harmless(tmp_path: Path) -> None:
    p = planner(tmp_path)
    p.close("never-opened", 5.0)
    assert p.window("nothing") is None and p.take_file("nothing") is None


def test_a_folder_it_cannot_write_gives_the_name_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = planner(tmp_path / "missing", post_capture_s=0)
    with caplog.at_level(logging.WARNING):
        a = p.open("a", 10.0, 10.0)
        p.close("a", 10.0)
        b = p.open("b", 20.0, 20.0)
    assert a.startswith(str(tmp_path / "missing")) and a.endswith("Z.mp4") and a != b
    assert p.take_file(a) is None  # the sink creates it, or reports why not
    assert len([r for r in caplog.records if "cannot create" in r.message]) == 1
