from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_app.analysis.base import ProcessorContext
from camera_app.analysis.filters import ObjectFilterProcessor, ObjectsConfig
from camera_app.analysis.tracking import TrackerConfig, TrackingProcessor
from camera_app.errors import ConfigError
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.labels import Labels
from camera_app.results import Detections, FrameResult
from camera_app.validation import build

LABELS = Labels({0: "person", 2: "car"}, "test")
INFO = SourceInfo("test", "video", (640, 480), 10.0)
IMAGE = np.zeros((480, 640, 3), np.uint8)
COLUMNS = {
    "track_score": np.float32,
    "track_top_score": np.float32,
    "true_positive": np.bool_,
    "stationary": np.bool_,
    "track_age_s": np.float32,
    "track_expires_s": np.float64,
}


def frame_result(
    i: int, dets: list[tuple[list[float], float, int]], fps: float = 10.0, **kw: Any
) -> FrameResult:
    """Frame ``i`` at ``fps`` (media time and capture time agree unless
    ``timestamp_ns`` is given) with (xyxy, score, class id) detections."""
    ts = kw.pop("timestamp_ns", round(i / fps * 1e9))
    frame = Frame(IMAGE, i, ts, INFO, media_ms=i * 1000 / fps)
    d = Detections(
        np.array([x for x, _, _ in dets], np.float32).reshape(-1, 4),
        np.array([s for _, s, _ in dets], np.float32),
        np.array([c for _, _, c in dets], np.int32),
    )
    return FrameResult(frame, "ssd", d, labels=LABELS, **kw)


def processor(every_frame: bool = True, **objects: Any) -> TrackingProcessor:
    p = TrackingProcessor(TrackerConfig(), ObjectsConfig(**objects))
    p.bind(ProcessorContext(emit=lambda e: None, every_frame=every_frame))
    return p


PERSON_BOX = [100.0, 100.0, 160.0, 260.0]


def test_ids_appear_at_confirmation_and_columns_are_published() -> None:
    p = processor()
    outs = [p.process(frame_result(i, [(PERSON_BOX, 0.8, 0)])).detections for i in range(4)]
    assert [d.tracker_id.tolist() for d in outs if d.tracker_id is not None] == [[-1], [-1], [1], [1]]  # fmt: skip
    last = outs[-1]
    for name, dtype in COLUMNS.items():
        assert last.data[name].dtype == dtype, name
    assert last.data["true_positive"].tolist() == [True]
    assert last.data["track_score"][0] == pytest.approx(0.8)
    assert last.data["track_age_s"][0] == pytest.approx(0.3)
    assert last.data["track_expires_s"][0] == pytest.approx(0.3 + 2.0)
    assert outs[1].data["true_positive"].tolist() == [False]  # tentative
    assert p.active_tracks == 1 and p.moving_tracks == 1


def test_only_detections_matched_to_a_track_are_passed_on() -> None:
    p = processor()
    for i in range(3):
        p.process(frame_result(i, [(PERSON_BOX, 0.8, 0)]))
    out = p.process(
        frame_result(
            3,
            [
                (PERSON_BOX, 0.3, 0),  # low score, on the track: kept, with its id
                ([400, 100, 460, 260], 0.3, 0),  # low score, nowhere: dropped
                ([400, 300, 500, 360], 0.9, 2),  # a new car: tentative
            ],
        )
    ).detections
    assert out.class_id.tolist() == [0, 2]
    assert out.tracker_id is not None and out.tracker_id.tolist() == [1, -1]
    assert out.confidence.tolist() == pytest.approx([0.3, 0.9])


def test_per_label_min_score_and_threshold() -> None:
    objects = build(
        ObjectsConfig,
        {"filters": {"person": {"min_score": 0.7, "threshold": 0.9}, "car": {"threshold": 0.5}}},
        "objects",
    )
    p = TrackingProcessor(TrackerConfig(), objects)
    p.bind(ProcessorContext(emit=lambda e: None, every_frame=True))
    car = [300.0, 300.0, 400.0, 360.0]
    for i in range(5):
        out = p.process(frame_result(i, [(PERSON_BOX, 0.65, 0), (car, 0.55, 2)])).detections
    # person at 0.65 < its min_score 0.7: never starts a track; car 0.55 >= 0.5
    assert out.class_id.tolist() == [2]
    assert out.data["true_positive"].tolist() == [True]


def test_every_frame_replay_runs_on_media_time() -> None:
    # capture times all equal (a replay as fast as possible): media time must rule
    replay, live = processor(every_frame=True), processor(every_frame=False)
    for i in [0, 1, 2, 3, 40]:  # 3.7 s gap in media time
        r = frame_result(i, [(PERSON_BOX, 0.8, 0)], timestamp_ns=5_000_000_000)
        a, b = replay.process(r).detections, live.process(r).detections
    assert a.tracker_id is not None and a.tracker_id.tolist() == [-1]  # lost, started again
    assert b.tracker_id is not None and b.tracker_id.tolist() == [1]  # no time passed


def test_frames_without_inference_pass_through() -> None:
    p = processor()
    r = frame_result(0, [(PERSON_BOX, 0.8, 0)], inferred=False)
    assert p.process(r) is r
    assert p.tracker.tracks == []


def test_close_forgets_every_track() -> None:
    p = processor()
    for i in range(3):
        p.process(frame_result(i, [(PERSON_BOX, 0.8, 0)]))
    p.close()
    assert p.active_tracks == 0


def test_config() -> None:
    c = build(TrackerConfig, {"max_disappeared_s": 5, "matching": "greedy"}, "tracker")
    assert c.params().max_disappeared_s == 5.0 and c.params().matching == "greedy"
    with pytest.raises(ConfigError, match=r"^tracker.low_match_iou: expected >= match_iou"):
        build(TrackerConfig, {"match_iou": 0.6}, "tracker")
    with pytest.raises(ConfigError, match=r"^tracker.matching: expected one of"):
        build(TrackerConfig, {"matching": "hungarian"}, "tracker")


# ---- golden: the fixture SSD on one-by-one-person-detection.mp4 -------------

VIDEO = "one-by-one-person-detection.mp4"
# Six people walk in, one at a time, stand at the table and leave (frames
# 30-1390 looked at, 0.1 s apart): who is in the room, by frame number.
PASSAGES = [(60, 200), (228, 450), (500, 700), (745, 870), (920, 1200), (1235, 1365)]
_DECODED: dict[str, list[FrameResult]] = {}


@pytest.fixture(scope="session")
def video_results(models_dir: Path, videos_dir: Path) -> list[FrameResult]:
    """Every frame through the real model, candidates down to 0.2 (cached)."""
    if VIDEO not in _DECODED:
        cv2 = pytest.importorskip("cv2")
        from camera_app.inference.model import load_model

        model = load_model(
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            labels=str(models_dir / "coco_labels.txt"),
            threshold=0.2,
        )
        cap = cv2.VideoCapture(str(videos_dir / VIDEO))
        info = None
        out: list[FrameResult] = []
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                if info is None:
                    info = SourceInfo(VIDEO, "video", (image.shape[1], image.shape[0]), 10.0)
                i = len(out)
                frame = Frame(image, i, i * 100_000_000, info, media_ms=i * 100.0)
                r = model.infer(frame)
                out.append(r.evolve(frame=Frame(IMAGE[:1, :1], i, frame.timestamp_ns, info, media_ms=frame.media_ms)))  # fmt: skip
        finally:
            cap.release()
            model.close()
        _DECODED[VIDEO] = out
    return _DECODED[VIDEO]


def replay(results: list[FrameResult], step: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Filters and tracker at their defaults over every ``step``-th frame;
    per (label, tracker id): frames seen, scores, true positive."""
    ctx = ProcessorContext(emit=lambda e: None, every_frame=True)
    filters, tracking = ObjectFilterProcessor(ObjectsConfig()), processor()
    filters.bind(ctx)
    tracks: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"frames": [], "track_score": 0.0, "tp": False}
    )
    for r in results[::step]:
        d = tracking.process(filters.process(r)).detections
        assert d.tracker_id is not None
        for k in np.nonzero(d.tracker_id >= 0)[0]:
            t = tracks[(r.labels.name(int(d.class_id[k])) or "?", int(d.tracker_id[k]))]  # type: ignore[union-attr]
            t["frames"].append(r.frame.frame_id)
            t["track_score"] = max(t["track_score"], float(d.data["track_score"][k]))
            t["tp"] |= bool(d.data["true_positive"][k])
    return dict(tracks)


@pytest.mark.fixtures
@pytest.mark.slow
@pytest.mark.parametrize("step", [1, 3], ids=["10fps", "3.3fps"])
def test_golden_one_true_positive_per_person_and_no_tv(
    video_results: list[FrameResult], step: int
) -> None:
    assert len(video_results) == 1394
    tracks = replay(video_results, step)
    people = {k: t for k, t in tracks.items() if k[0] == "person" and t["tp"]}
    tvs = {k: t for k, t in tracks.items() if k[0] == "tv"}
    assert tvs, "the table top is tracked as a tv"
    assert not any(t["tp"] for t in tvs.values()), tvs
    assert max(t["track_score"] for t in tvs.values()) < 0.55
    per_passage: list[list[int]] = [[] for _ in PASSAGES]
    for (_, tid), t in people.items():
        first, last = t["frames"][0], t["frames"][-1]
        inside = [i for i, (a, b) in enumerate(PASSAGES) if a - 5 <= first and last <= b + 5]
        assert len(inside) == 1, f"person {tid} seen in frames {first}-{last}"
        per_passage[inside[0]].append(tid)
        a, b = PASSAGES[inside[0]]
        assert last - first >= 0.8 * (b - a), f"person {tid} covers only {first}-{last}"
    assert [len(p) for p in per_passage] == [1] * 6, per_passage
