"""Clips from real H.264 packets: pre-roll, post-roll, shared clips, parts,
shutdown and write failures, checked frame by frame in the files.

Frame ``i`` is at ``1000 s + i / 10`` (10 fps, a key frame every 10 frames)
and carries its number (``clipkit.stamp``), so the frames a clip holds are
read back exactly. Events are driven as the events stage and the pipeline
do it: the planner is asked on the inference side, and the event reaches
the recorder before the packet of the frame that raised it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import clipkit
import pytest

from camera_app.clips.packets import EncodedPacket
from camera_app.clips.planner import ClipPlanner
from camera_app.clips.recorder import ClipRecorder
from camera_app.recording.retention import Retention

T0 = 1000.0
Action = tuple[str, str, int]
"""(``open`` or ``close``, event id, frame of its start or of its end)."""


def t(i: int) -> float:
    return T0 + i / 10


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def stream() -> list[EncodedPacket]:
    return clipkit.packets(400)


class Run:
    """A planner and a recorder fed like the clips sink feeds them."""

    def __init__(
        self, directory: Path, *, pre: float = 2, post: float = 3, **kwargs: object
    ) -> None:
        self.planner = ClipPlanner(directory, pre_capture_s=pre, post_capture_s=post,
                                   max_clip_s=float(kwargs.pop("max_clip_s", 600.0)))  # type: ignore[arg-type]  # fmt: skip
        self.clock = FakeClock()
        self.recorder = ClipRecorder(
            self.planner, ring_s=pre + 5, ring_bytes=int(kwargs.pop("ring_bytes", 10**7)),  # type: ignore[call-overload]
            lag_s=float(kwargs.pop("lag_s", 0.0)), max_clip_s=float(kwargs.pop("max_clip_s_rec", 600.0)),  # type: ignore[arg-type]
            retention=kwargs.pop("retention", None), fps=10, clock=self.clock,  # type: ignore[arg-type]
        )  # fmt: skip
        self.paths: dict[str, str] = {}

    def feed(self, packets: list[EncodedPacket], script: dict[int, list[Action]]) -> None:
        for p in packets:
            i = round((p.pts_ns / 1e9 - T0) * 10)
            for kind, event_id, at in script.get(i, []):
                if kind == "open":
                    path = self.planner.open(event_id, t(at), t(i))
                    self.paths[event_id] = path
                    self.recorder.event("new", path)
                else:
                    self.planner.close(event_id, t(at))
                    self.recorder.event("end", self.paths[event_id])
            self.recorder.add(p)


def numbers(path: str | Path) -> list[int]:
    got = clipkit.frames_in(Path(path))
    assert got.decode_errors == 0 and got.codec == "h264"
    return got.numbers


def test_a_clip_runs_from_pre_capture_before_the_start_to_post_capture_after_the_end(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=2, post=3)
    # seen from frame 50, raised at 53; last seen at 80, ended (by the tracker) at 100
    run.feed(stream[:200], {53: [("open", "a", 50)], 100: [("close", "a", 80)]})
    path = run.paths["a"]
    assert run.recorder.finished_files == [path] and run.recorder.open_clips == []
    # from the key frame at 3 s (5 s - 2 s) to 8 s + 3 s, every frame once
    assert numbers(path) == list(range(30, 111))
    times = clipkit.frames_in(Path(path)).times_s
    assert times[0] == 0 and times[-1] == pytest.approx(8.0, abs=0.001)  # real time
    assert run.recorder.state().written == 81 and run.recorder.state().ok


def test_pre_roll_starts_at_the_nearest_key_frame_never_after_the_event(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=1.6, post=0.5, lag_s=2.0)
    # 5.9 s - 1.6 s = 4.3 s: key frame 40 is nearest
    run.feed(stream[:140], {62: [("open", "a", 59)], 85: [("close", "a", 65)]})
    got = numbers(run.paths["a"])
    assert got[0] == 40 and got[-1] == 70
    run2 = Run(tmp_path / "b", pre=0.0, post=0.5, lag_s=2.0)
    (tmp_path / "b").mkdir()
    # pre_capture_s 0 and the event starts at 5.9 s: 6 s is nearer, but after the start
    run2.feed(stream[:140], {62: [("open", "a", 59)], 85: [("close", "a", 65)]})
    assert numbers(run2.paths["a"])[0] == 50


def test_post_capture_shorter_than_the_trackers_delay_still_ends_on_time(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    """The tracker calls an object gone 2 s after it was last seen; with
    post_capture_s 1 the clip must end 1 s after, which the lag allows."""
    late = Run(tmp_path / "late", pre=1, post=1, lag_s=0.0)
    lagged = Run(tmp_path / "lagged", pre=1, post=1, lag_s=1.5)
    for run in (late, lagged):
        Path(run.planner.directory).mkdir()
        run.feed(stream[:200], {53: [("open", "a", 50)], 100: [("close", "a", 80)]})
    assert numbers(lagged.paths["a"]) == list(range(40, 91))
    assert numbers(late.paths["a"])[-1] == 99  # without the lag: when the end was known


def test_overlapping_events_share_one_clip_until_after_the_last_end(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=2, post=3)
    script: dict[int, list[Action]] = {
        53: [("open", "a", 50)],
        98: [("open", "b", 95)],  # a is still open (it ends at 100)
        100: [("close", "a", 80)],
        140: [("close", "b", 120)],
    }
    run.feed(stream[:200], script)
    assert run.paths["a"] == run.paths["b"]
    assert run.recorder.finished_files == [run.paths["a"]]
    assert numbers(run.paths["a"]) == list(range(30, 151))  # 3 s to 12 s + 3 s


def test_events_apart_get_a_clip_each_whose_pre_rolls_may_overlap(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=2, post=1, lag_s=1.5)
    script: dict[int, list[Action]] = {
        53: [("open", "a", 50)],
        100: [("close", "a", 80)],  # a's clip runs until 9 s
        104: [("open", "b", 101)],  # raised at 10.4 s: a new clip from 8.1 s
        150: [("close", "b", 130)],
    }
    run.feed(stream[:220], script)
    a, b = run.paths["a"], run.paths["b"]
    assert a != b and run.recorder.finished_files == [a, b]
    assert numbers(a) == list(range(30, 91))
    assert numbers(b) == list(range(80, 141))


def test_an_open_clip_is_finished_on_close_and_plays(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=2, post=3, lag_s=1.0)
    run.feed(stream[:120], {53: [("open", "a", 50)]})
    path = run.paths["a"]
    assert run.recorder.open_clips == [path]
    run.recorder.close()  # the run stops while the event is open
    assert numbers(path) == list(range(30, 120))  # all of it, the lag included
    assert run.recorder.finished_files == [path] and run.recorder.open_clips == []


def test_a_clip_that_never_started_leaves_no_file(tmp_path: Path) -> None:
    run = Run(tmp_path)
    path = run.planner.open("a", 10.0, 10.0)
    run.recorder.event("new", path)  # no packet ever came
    run.recorder.close()
    assert list(tmp_path.iterdir()) == []


def test_a_clip_longer_than_max_clip_s_goes_on_in_parts(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    run = Run(tmp_path, pre=2, post=3, max_clip_s_rec=10.0)
    run.feed(stream[:400], {53: [("open", "a", 50)], 320: [("close", "a", 299)]})
    first = Path(run.paths["a"])
    files = [Path(p) for p in run.recorder.finished_files]
    assert files == [
        first,
        first.with_name(first.stem + "-part2.mp4"),
        first.with_name(first.stem + "-part3.mp4"),
    ]
    parts = [numbers(p) for p in files]
    assert [p[0] for p in parts] == [30, 130, 230]  # each starts on a key frame
    assert [n for part in parts for n in part] == list(
        range(30, 330)
    )  # nothing lost, nothing twice


def test_a_new_stream_ends_the_file_and_the_clip_goes_on_in_a_part(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    """A camera restart with another size: the old stream cannot go on in
    the same file."""
    smaller = clipkit.packets(100, size_wh=(192, 108), first=100, t0_ns=round(T0 * 1e9))
    run = Run(tmp_path, pre=2, post=3)
    run.feed(stream[:100] + smaller, {53: [("open", "a", 50)], 150: [("close", "a", 130)]})
    first = Path(run.paths["a"])
    assert [Path(p) for p in run.recorder.finished_files] == [
        first,
        first.with_name(first.stem + "-part2.mp4"),
    ]
    assert numbers(first) == list(range(30, 100))
    second = clipkit.frames_in(first.with_name(first.stem + "-part2.mp4"))
    assert second.size_wh == (192, 108) and second.numbers == list(range(100, 161))


def test_retention_runs_when_a_clip_starts_and_spares_open_clips(
    tmp_path: Path, stream: list[EncodedPacket]
) -> None:
    old = tmp_path / "2020-01-01T00-00-00Z.mp4"
    old.write_bytes(b"x" * 1000)
    three_days_ago = time.time() - 3 * 86400
    os.utime(old, (three_days_ago, three_days_ago))
    other = tmp_path / "notes.mp4"  # not a clip's name: never touched
    other.write_bytes(b"y")
    run = Run(tmp_path, pre=2, post=1, lag_s=1.5, retention=Retention(retain_days=1, pattern="????-??-??T??-??-??Z*.mp4"))  # fmt: skip
    run.feed(stream[:150], {53: [("open", "a", 50)], 100: [("close", "a", 80)]})
    assert not old.exists() and other.exists() and Path(run.paths["a"]).exists()


@pytest.fixture()
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root; skipped with the reason otherwise)."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def test_a_full_disk_is_reported_once_and_the_clip_resumes_from_the_ring(
    small_fs: Path, stream: list[EncodedPacket], caplog: pytest.LogCaptureFixture
) -> None:
    filler = small_fs / "filler"
    run = Run(small_fs, pre=2, post=3)
    with caplog.at_level(logging.INFO, logger="camera_app"):
        run.feed(stream[:60], {53: [("open", "a", 50)]})
        # the disk fills up: the next fragment cannot be written
        free = subprocess.run(["df", "-B1", "--output=avail", str(small_fs)], capture_output=True, text=True, check=True)  # fmt: skip
        filler.write_bytes(b"\0" * (int(free.stdout.split()[-1]) - 4096))
        run.feed(stream[60:90], {})
        state = run.recorder.state()
        assert not state.ok and "ENOSPC" in (state.reason or "") and state.failures == 1
        filler.unlink()  # space again; the back-off is not over yet
        run.feed(stream[90:92], {})
        assert not run.recorder.state().ok
        run.clock.now += 60
        run.feed(stream[92:200], {100: [("close", "a", 80)]})
    state = run.recorder.state()
    assert state.ok and state.failures == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "No space left" in errors[0].getMessage()
    assert any("writing again" in r.getMessage() for r in caplog.records)
    first = Path(run.paths["a"])
    files = [first, first.with_name(first.stem + "-part2.mp4")]
    assert [Path(p) for p in run.recorder.finished_files] == files[1:]
    got = [numbers(p) for p in files]
    assert got[0][0] == 30 and got[1][0] % 10 == 0  # both start on key frames
    # the torn fragment was cut off; the part goes on from its start, read
    # back from the ring: not a frame lost, none twice
    assert got[0] + got[1] == list(range(30, 111))
    assert state.dropped == 0 and state.written >= 81


def test_a_clip_deleted_while_written_is_noticed_and_goes_on_in_a_part(
    tmp_path: Path, stream: list[EncodedPacket], caplog: pytest.LogCaptureFixture
) -> None:
    run = Run(tmp_path, pre=2, post=3)
    with caplog.at_level(logging.ERROR, logger="camera_app"):
        run.feed(stream[:70], {53: [("open", "a", 50)]})
        Path(run.paths["a"]).unlink()
        run.clock.now += 5  # the next check is due
        run.feed(stream[70:75], {})
        assert not run.recorder.state().ok
        run.clock.now += 5  # the back-off is over
        run.feed(stream[75:200], {100: [("close", "a", 80)]})
    assert len(caplog.records) == 1 and "deleted" in caplog.records[0].getMessage()
    first = Path(run.paths["a"])
    part2 = first.with_name(first.stem + "-part2.mp4")
    assert not first.exists() and run.recorder.finished_files == [str(part2)]
    # it goes on from the fragment being written when the file went, out of the ring
    assert numbers(part2) == list(range(60, 111))
    assert run.recorder.state().ok and run.recorder.state().failures == 1
