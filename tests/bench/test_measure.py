"""Bench meters: summaries, the timed source, sink parsing, RSS."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from camera_app.bench.measure import (
    StageTimes,
    ThreadCpu,
    TimedSource,
    peak_rss_mb,
    rss_mb,
    summarize,
)
from camera_app.bench.sinks import parse_sinks
from camera_app.errors import UsageError
from camera_app.frames import Frame, SourceInfo


def test_summarize() -> None:
    s = summarize(list(range(1, 101)))
    assert s["mean"] == 50.5 and s["p50"] == 50.5 and s["count"] == 100
    assert s["p95"] == pytest.approx(95.05) and s["p99"] == pytest.approx(99.01)
    assert summarize([]) == {"mean": None, "p50": None, "p95": None, "p99": None, "count": 0}


class _ListSource:
    """A finished-in-memory source: three frames then the end."""

    def __init__(self) -> None:
        self._info = SourceInfo("mem", "video", (4, 2), fps=1000.0)
        self.frames = [Frame(np.zeros((2, 4, 3), np.uint8), i, 0, self._info) for i in range(3)]
        self.stopped = False

    @property
    def info(self) -> SourceInfo:
        return self._info

    def start(self) -> SourceInfo:
        return self._info

    def read(self, timeout_s: float = 2.0) -> Frame | None:
        return self.frames.pop(0) if self.frames else None

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("paced", [False, True])
def test_timed_source_times_each_frame(paced: bool) -> None:
    times = StageTimes()
    src = TimedSource(_ListSource(), times, paced=paced)
    assert src.start().name == "mem"
    ids = []
    while (f := src.read()) is not None:
        ids.append(f.frame_id)
    src.stop()
    assert ids == [0, 1, 2]
    assert len(times.samples["capture"]) == 3
    assert all(ms >= 0 for ms in times.samples["capture"])
    assert times.summary()["capture"]["count"] == 3


def test_thread_cpu_names_python_threads() -> None:
    meter = ThreadCpu()
    done = threading.Event()

    def spin() -> None:
        x = 0
        while not done.is_set():
            x += 1
            if x % 100_000 == 0:
                meter.sample()
                if meter.totals_s().get("spinner", 0) > 0:
                    done.set()

    t = threading.Thread(target=spin, name="spinner")
    t.start()
    t.join(10)
    done.set()
    if meter.available:
        assert meter.totals_s()["spinner"] > 0


def test_rss() -> None:
    assert 0 < rss_mb() <= peak_rss_mb() + 1


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("jsonl", ("jsonl",)),
        ("overlay,record,jsonl", ("overlay", "record", "jsonl")),
        (" jsonl , record ", ("jsonl", "record")),
        ("none", ()),
        ("", ()),
    ],
)
def test_parse_sinks(text: str, expect: tuple[str, ...]) -> None:
    assert parse_sinks(text) == expect


@pytest.mark.parametrize(
    ("text", "match"), [("jsonl,foo", "unknown sink"), ("record,record", "twice")]
)
def test_parse_sinks_rejects(text: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_sinks(text)
