"""Motion gating end to end (issue 15's acceptance), on the real model and videos.

Each run goes through the app as a user's config would (conftest's
``run_app``): ``load_config`` of a TOML file (``[events] path`` turns
tracking and events on, ``[motion] enabled``, ``[detect] fps``),
``build_run``, then ``run_pipeline`` (what ``camera-app run`` does), with
one extra sink that records what reaches the sinks. Events are compared
from the events logs the runs write.

* No events lost: on ``one-by-one-person-detection.mp4`` and
  ``bottle-detection.mp4`` (every frame), gating gives the same person and
  bottle events (count; starts within 1 s) as no gating, inferring fewer
  frames.
* 30 s of the empty room, then the fixture video: with ``[detect] fps = 5``
  inference runs on <= 40% of the frames, with the same person events as
  ungated. (Without the cap it cannot: people move in 70% of the fixture's
  frames, so motion alone wants about 60% of the composed clip.)
* ``[detect] fps = 5`` on a 30 fps clip replayed in real time, with motion
  throughout: 5 +- 0.5 inferences a second, while a sink gets the results,
  inferred or not, at the source's rate (and the recording all it got).
  With ``[pipeline] queue_size = 8``: see the test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytestmark = [pytest.mark.fixtures, pytest.mark.slow, pytest.mark.timeout(900)]

START_WITHIN_MS = 1000.0
GATED = """
[motion]
enabled = true
"""

Replays = Any  # conftest's ``replays``: (source, extra, mode) -> Replay
Replay = Any


def gated_with_fps(fps: float) -> str:
    return GATED + f"\n[detect]\nfps = {fps}\n"


def report(name: str, base: Replay, gated: Replay) -> None:
    """The figures, for the report (``pytest -s`` shows them)."""
    print(
        f"\n{name}: frames {gated.captured}; inferred ungated {base.inferred}, gated "
        f"{gated.inferred} ({gated.inferred / gated.captured:.1%}), not inferred "
        f"{dict(gated.snapshot.gated)}; events ungated "
        f"{[(e['label'], e['start_media_ms']) for e in base.events]}, gated "
        f"{[(e['label'], e['start_media_ms']) for e in gated.events]}",
        file=sys.stderr,
    )


def assert_same_events(base: Replay, gated: Replay, labels: tuple[str, ...]) -> None:
    for label in labels:
        want, got = base.starts(label), gated.starts(label)
        assert len(got) == len(want), (label, want, got)
        for w, g in zip(want, got, strict=True):
            assert abs(w - g) <= START_WITHIN_MS, (label, want, got)


def assert_every_frame_reached_the_sinks(run: Replay) -> None:
    ids = [row.frame_id for row in run.seen]
    assert ids == list(range(run.captured))
    inferred = sum(1 for row in run.seen if row.inferred)
    assert inferred == run.inferred
    assert run.captured - inferred == run.snapshot.gated_total


@pytest.mark.parametrize(
    ("video", "labels", "events"),
    [
        ("one-by-one-person-detection.mp4", ("person",), 6),
        ("bottle-detection.mp4", ("bottle", "person"), None),
    ],
    ids=["one-by-one", "bottle"],
)
def test_gating_keeps_every_event_and_infers_fewer_frames(
    replays: Replays,
    videos_dir: Path,
    video: str,
    labels: tuple[str, ...],
    events: int | None,
) -> None:
    base = replays(videos_dir / video)
    gated = replays(videos_dir / video, GATED)
    report(video, base, gated)
    assert base.inferred == base.captured == gated.captured
    assert_same_events(base, gated, labels)
    assert base.starts(labels[0]), "no events: nothing compared"
    if events is not None:
        assert len(base.starts(labels[0])) == events
    assert gated.inferred < base.inferred
    assert gated.snapshot.gated_total > 0 and set(gated.snapshot.gated) == {"no_motion"}
    assert_every_frame_reached_the_sinks(gated)


def test_empty_room_then_people_infers_at_most_40_percent_with_detect_fps_5(
    replays: Replays, empty_room_then_people: Path
) -> None:
    base = replays(empty_room_then_people)
    gated = replays(empty_room_then_people, gated_with_fps(5))
    report("empty room 30 s + one-by-one, [detect] fps = 5", base, gated)
    assert gated.captured == base.captured == base.inferred
    assert gated.inferred <= 0.40 * gated.captured
    assert_same_events(base, gated, ("person",))
    assert len(base.starts("person")) == 6
    # the empty room (the first 30 s): the first frame and keep-alives only
    empty = [row for row in gated.seen if row.frame_id < 300]
    assert 1 <= sum(1 for row in empty if row.inferred) <= 30 / 5 + 1
    assert not any(row.motion for row in empty[1:])
    assert_every_frame_reached_the_sinks(gated)


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def test_detect_fps_5_on_a_30fps_realtime_source(replays: Replays, moving_30fps: Path) -> None:
    """Motion throughout, replayed at its 30 fps: 5 +- 0.5 inferences a
    second, while the sinks (a counting one, the recording) get every frame,
    inferred or not, at the source's rate.

    Measured from the first inferred frame plus 1 s: ``build_run`` starts the
    source before loading the model, and the replay's clock starts with the
    source, so a slow model load makes the replay begin with a burst of late
    frames, which the capture queue drops as a live pipeline should.

    ``[pipeline] queue_size = 8``: with the default 2, a frame captured while
    an inference runs longer than two frame periods (66 ms at 30 fps; a
    Pi 4's SSD takes about that, this shared machine under load more) is
    dropped at the capture queue, before any sink sees it. Eight frames
    hold 266 ms of them."""
    record = moving_30fps.parent / "fps5-recording.avi"
    extra = (
        gated_with_fps(5)
        + f"""
[pipeline]
queue_size = 8

[sinks.record]
path = "{record}"
"""
    )
    run = replays(moving_30fps, extra, "realtime")
    s = run.snapshot
    assert s.source["pacing"] == "realtime"
    assert s.processed + s.gated_total + s.dropped.get("capture_queue", 0) == s.captured
    assert set(s.gated) == {"rate"}, "motion throughout"
    assert all(row.motion for row in run.seen[1:]), "motion throughout"
    recorded = count_frames(record)
    assert recorded == s.handled["record"]  # every result the recording took was written
    first_inferred = next(row.timestamp_ns for row in run.seen if row.inferred)
    steady = [row for row in run.seen if row.timestamp_ns >= first_inferred + 1_000_000_000]
    times = np.array([row.timestamp_ns for row in steady], np.int64)
    inferred = np.array([row.timestamp_ns for row in steady if row.inferred], np.int64)
    span_s = (times[-1] - times[0]) / 1e9
    at_sinks_fps = (
        steady[-1].frame_id - steady[0].frame_id
    ) / span_s  # frame ids: the source's rate
    seen_fps = (len(steady) - 1) / span_s
    edges = times[0] + np.arange(0, int(span_s) + 1) * 1_000_000_000
    per_second = np.histogram(inferred, bins=edges)[0]
    rate = (len(inferred) - 1) / ((inferred[-1] - inferred[0]) / 1e9)
    print(
        f"\ndetect fps 5, 30 fps realtime: captured {s.captured}, inferred {s.processed}, "
        f"not inferred {dict(s.gated)}, dropped {dict(s.dropped)}, recorded {recorded}; "
        f"steady {span_s:.1f} s: source {at_sinks_fps:.2f} fps, {len(steady)} results "
        f"at a sink ({seen_fps:.2f} per s), {len(inferred)} inferred ({rate:.2f} per s), "
        f"per 1 s window {per_second.tolist()}",
        file=sys.stderr,
    )
    assert span_s >= 8
    assert at_sinks_fps == pytest.approx(30, abs=1)
    # inferred or not, results reach the sinks at the source's rate (allowing
    # 5% lost to a machine this loaded), not at the inference rate
    assert 0.95 * at_sinks_fps <= seen_fps <= at_sinks_fps + 0.01
    assert recorded >= 0.95 * s.captured
    assert rate == pytest.approx(5, abs=0.5)
    assert per_second.min() >= 4 and per_second.max() <= 6
    assert abs(per_second.mean() - 5) <= 0.5


def test_jsonl_has_records_only_for_inferred_frames(
    replays: Replays, still_room_30fps: Path
) -> None:
    """Issue 15: "per-frame JSONL records only for inferred frames"."""
    jsonl = still_room_30fps.parent / "still-detections.jsonl"
    run = replays(still_room_30fps, GATED + f'\n[sinks.jsonl]\npath = "{jsonl}"\n')
    assert run.captured == 300 and run.inferred == 2  # the first frame and the keep-alive
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    records = [r for r in lines if "frame_id" in r]  # not the run's start/end lines
    assert records and len(records) == run.inferred
