"""The events log: appended whole lines, failures reported once and retried, rotation."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import pytest

from camera_app.analysis.events import EventsConfig
from camera_app.errors import SinkError
from camera_app.events import ObjectEvent, SourceEvent
from camera_app.recording.health import WriteHealth
from camera_app.sinks.events_log import EventsLogSink
from camera_app.stats import PipelineStats


def event(i: int, kind: str = "new") -> ObjectEvent:
    return ObjectEvent(
        type=kind,  # type: ignore[arg-type]
        id=f"{i}.000-{i}",
        label="person",
        score=0.8,
        top_score=0.75,
        box_xyxy=(1.0, 2.0, 3.0, 4.0),
        frame_id=i,
        start_epoch_ns=1_764_000_000_000_000_000 + i,
        start_media_ms=i * 100.0,
        tracker_id=i,
    )


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def open_sink(path: Path | str, clock: Clock | None = None, **kw: int) -> EventsLogSink:
    health = WriteHealth("events log", "events", clock=clock or Clock())
    sink = EventsLogSink(str(path), health=health, **kw)
    sink.bind(PipelineStats(), lambda: None)
    return sink


def lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_one_json_object_per_event_appended_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"earlier": "run"}\n')
    sink = open_sink(path)
    sink.on_event(event(1))
    sink.on_event(SourceEvent("source_down", "gone"))  # not an object event: not logged
    sink.on_event(event(1, "end"))
    sink.close()
    got = lines(path)
    assert got[0] == {"earlier": "run"}
    assert [(d["type"], d["id"]) for d in got[1:]] == [("new", "1.000-1"), ("end", "1.000-1")]
    assert got[1] == event(1).to_json()
    second = open_sink(path)  # a second run appends too
    second.on_event(event(2))
    second.close()
    assert len(lines(path)) == 4


def test_a_line_torn_by_a_crash_is_closed_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "new"}\n{"type": "upd')
    sink = open_sink(path)
    sink.on_event(event(3))
    sink.close()
    text = path.read_text().splitlines()
    assert text[1] == '{"type": "upd'
    assert json.loads(text[2])["id"] == "3.000-3"


def test_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    sink = open_sink("-")
    sink.on_event(event(4))
    sink.close()
    out = capsys.readouterr().out
    assert json.loads(out)["id"] == "4.000-4" and out.endswith("\n")


def test_a_failed_write_leaves_no_torn_line_is_reported_once_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    clock = Clock()
    sink = open_sink(path, clock)
    assert sink._fd is not None
    fd, real_write = sink._fd, os.write
    full = {"on": True}

    def write(f: int, data: bytes | memoryview) -> int:
        if f == fd and full["on"]:
            real_write(f, bytes(data[:10]))  # part of the line, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(f, data)

    monkeypatch.setattr(os, "write", write)
    caplog.set_level(logging.ERROR)
    sink.on_event(event(1))
    sink.on_event(event(2))
    sink.on_event(event(3))
    assert path.read_text() == ""  # the torn part was cut back
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "No space left" in errors[0].getMessage()
    full["on"] = False
    sink.on_event(event(4))  # not yet: back-off
    assert path.read_text() == ""
    clock.t = 5.0
    sink.on_event(event(5))
    assert [d["id"] for d in lines(path)] == [f"{i}.000-{i}" for i in range(1, 6)]
    health = sink.output_health()
    assert health.ok and health.written == 5 and health.failures == 1
    sink.close()


def test_close_writes_what_is_still_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    sink = open_sink(path)
    assert sink._fd is not None
    fd, real_write = sink._fd, os.write
    calls = {"n": 0}

    def write(f: int, data: bytes | memoryview) -> int:
        if f == fd and calls["n"] == 0:
            calls["n"] += 1
            raise OSError(errno.EIO, "Input/output error")
        return real_write(f, data)

    monkeypatch.setattr(os, "write", write)
    sink.on_event(event(1))
    assert path.read_text() == ""
    sink.close()
    assert [d["id"] for d in lines(path)] == ["1.000-1"]


def test_rotation_keeps_the_newest_files_and_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line_len = len(json.dumps(event(100).to_json(), separators=(",", ":"))) + 1
    sink = open_sink(path, max_bytes=3 * line_len, keep=2)
    for i in range(100, 112):  # 12 lines: 4 files of 3 lines, the oldest deleted
        sink.on_event(event(i))
    sink.close()
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["events.jsonl.1", "events.jsonl.2"]
    assert [d["frame_id"] for d in lines(tmp_path / "events.jsonl.2")] == [106, 107, 108]
    assert [d["frame_id"] for d in lines(tmp_path / "events.jsonl.1")] == [109, 110, 111]


def test_bad_paths_fail_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match=r"events log .*: folder .* does not exist"):
        EventsLogSink(str(tmp_path / "missing" / "e.jsonl"))
    with pytest.raises(SinkError, match="is a directory"):
        EventsLogSink(str(tmp_path))
    with pytest.raises(SinkError, match=r"\[events\] path"):
        EventsLogSink.from_config(EventsConfig())
    sink = EventsLogSink.from_config(EventsConfig(path=str(tmp_path / "e.jsonl"), keep=3))
    assert sink.keep == 3


def test_component_hooks(tmp_path: Path) -> None:
    from camera_app.sinks import events_log

    path = str(tmp_path / "e.jsonl")
    assert events_log.build(EventsConfig(), None) is None  # type: ignore[arg-type]
    assert events_log.build(EventsConfig(path=path, enabled=False), None) is None  # type: ignore[arg-type]
    sink = events_log.build(EventsConfig(path=path), None)  # type: ignore[arg-type]
    assert isinstance(sink, EventsLogSink) and sink.path == path
    assert events_log.describe(EventsConfig(path=path)) == f"events log {path}"
    assert [f.flag for f in events_log.FLAGS] == ["--events"]
