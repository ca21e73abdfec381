"""``/api/events`` and ``/snapshots/`` on the run's HTTP server (a real socket)."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.app import (
    build_processors,
    config_from_args,
    make_source,
    model_options,
    pipeline_options,
)
from camera_app.components import BuildContext
from camera_app.config import AppConfig
from camera_app.events import LineCrossing, ObjectEvent, SourceEvent
from camera_app.http import HttpServer
from camera_app.inference.model import Model
from camera_app.pipeline import Pipeline
from camera_app.sinks import events_http
from camera_app.sinks.events_http import EventsApiConfig, EventsApiSink
from camera_app.sinks.snapshots import SnapshotsConfig, SnapshotsSink
from camera_app.stats import PipelineStats

TOKEN = "events-token"
S = 1_000_000_000


# -- builders ------------------------------------------------------------------
def event(
    kind: str,
    tid: int,
    start_s: float,
    *,
    snapshot_dir: Path | None = None,
    changes: tuple[str, ...] = (),
    zones: tuple[str, ...] = (),
    label: str = "person",
) -> ObjectEvent:
    event_id = f"{start_s:.3f}-{tid}"
    return ObjectEvent(
        type=kind,  # type: ignore[arg-type]
        id=event_id,
        label=label,
        score=0.8,
        top_score=0.9,
        box_xyxy=(10.0, 20.0, 110.0, 220.0),
        frame_id=int(start_s * 10),
        start_epoch_ns=int(start_s * S),
        end_epoch_ns=int((start_s + 5) * S) if kind == "end" else None,
        tracker_id=tid,
        zones=zones,
        entered_zones=zones,
        crossed_lines=(LineCrossing("gate", "in"),) if "line" in changes else (),
        snapshot=None if snapshot_dir is None else str(snapshot_dir / f"{event_id}.jpg"),
        changes=changes,
    )


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer(port=0, token=TOKEN, stats=PipelineStats()) as s:
        s.start()
        yield s


def get(
    server: HttpServer, path: str, headers: dict[str, str] | None = None, token: bool = True
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        conn.request("GET", path, headers={**auth, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def api(server: HttpServer, query: str = "") -> dict[str, Any]:
    status, headers, body = get(server, "/api/events" + query)
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    out: dict[str, Any] = json.loads(body)
    return out


# -- the record per event ----------------------------------------------------------
def test_new_update_end_become_one_record_newest_first(server: HttpServer) -> None:
    sink = EventsApiSink(server)
    sink.on_event(event("new", 1, 100.0))
    sink.on_event(event("new", 2, 130.0))
    sink.on_event(SourceEvent("source_down"))  # ignored
    sink.on_event(event("update", 1, 100.0, changes=("zone",), zones=("porch",)))
    sink.on_event(event("update", 1, 100.0, changes=("line",), zones=("porch",)))
    sink.on_event(event("end", 1, 100.0, zones=("porch",)))
    got = api(server)
    assert got["count"] == 2 and got["max_events"] == 200 and got["version"] == 5
    first, second = got["events"]
    assert first["id"] == "130.000-2" and first["state"] == "active" and first["updates"] == 0
    assert first["end_time"] is None
    assert second["id"] == "100.000-1" and second["state"] == "ended"
    assert second["updates"] == 2 and second["zones"] == ["porch"]
    assert second["end_time"] == "1970-01-01T00:01:45.000Z"
    assert second["start_time"] == "1970-01-01T00:01:40.000Z"
    assert "type" not in second and "changes" not in second
    assert second["snapshot_url"] is None and second["clip"] is None


def test_ring_keeps_the_newest_and_limit_cuts(server: HttpServer) -> None:
    sink = EventsApiSink(server, max_events=3)
    for i, start in enumerate([50.0, 10.0, 40.0, 30.0, 20.0]):  # arrival != start order
        sink.on_event(event("new", i, start))
    got = api(server)
    # the oldest starts go; one older than all those kept never gets in
    assert [e["id"] for e in got["events"]] == ["50.000-0", "40.000-2", "30.000-3"]
    assert got["version"] == 4
    assert [e["id"] for e in api(server, "?limit=1")["events"]] == ["50.000-0"]
    sink.on_event(event("end", 1, 10.0))  # the end of an evicted event: still out
    sink.on_event(event("new", 5, 60.0))
    assert [e["id"] for e in api(server)["events"]] == ["60.000-5", "50.000-0", "40.000-2"]


@pytest.mark.parametrize("limit", ["0", "201", "x", "-1"])
def test_bad_limit_is_400_naming_it(server: HttpServer, limit: str) -> None:
    EventsApiSink(server)
    status, _, body = get(server, f"/api/events?limit={limit}")
    assert status == 400
    assert json.loads(body)["error"].startswith("limit: expected 1 to 200")


def test_needs_the_token(server: HttpServer) -> None:
    EventsApiSink(server, snapshots_dir="/tmp")
    assert get(server, "/api/events", token=False)[0] == 401
    assert get(server, "/snapshots/1.000-1.jpg", token=False)[0] == 401
    assert get(server, f"/api/events?token={TOKEN}", token=False)[0] == 200


# -- snapshots ---------------------------------------------------------------------
def jpeg(shade: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), shade, np.uint8))
    assert ok
    return buf.tobytes()


def test_snapshot_urls_serve_the_files(server: HttpServer, tmp_path: Path) -> None:
    sink = EventsApiSink(server, snapshots_dir=tmp_path)
    sink.on_event(event("new", 7, 12.5, snapshot_dir=tmp_path))
    (tmp_path / "12.500-7.jpg").write_bytes(jpeg(90))
    rec = api(server)["events"][0]
    assert rec["snapshot_url"] == "/snapshots/12.500-7.jpg"
    assert rec["snapshot_version"] == 0
    status, headers, body = get(server, rec["snapshot_url"] + "?v=0")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (48, 64, 3)
    status, headers, part = get(server, rec["snapshot_url"], {"Range": "bytes=0-9"})
    assert status == 206 and part == body[:10]
    # a better picture, then the end: the version tells clients to reload
    sink.on_event(event("update", 7, 12.5, snapshot_dir=tmp_path, changes=("snapshot",)))
    assert api(server)["events"][0]["snapshot_version"] == 1
    sink.on_event(event("end", 7, 12.5, snapshot_dir=tmp_path))
    assert api(server)["events"][0]["snapshot_version"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/snapshots/missing-1.jpg",  # not a snapshot name
        "/snapshots/99.000-1.jpg",  # a snapshot name, no such file
        "/snapshots/..%2Fsecret.jpg",
        "/snapshots/%2E%2E/secret.jpg",
        "/snapshots/sub/1.000-1.jpg",
        "/snapshots/notes.txt",
    ],
)
def test_only_snapshot_files_in_the_folder_are_served(
    server: HttpServer, tmp_path: Path, path: str
) -> None:
    snaps = tmp_path / "snaps"
    (snaps / "sub").mkdir(parents=True)
    (snaps / "sub" / "1.000-1.jpg").write_bytes(jpeg(1))
    (snaps / "notes.txt").write_text("x")
    (tmp_path / "secret.jpg").write_bytes(jpeg(2))
    EventsApiSink(server, snapshots_dir=snaps)
    assert get(server, path)[0] == 404


def test_snapshot_outside_the_folder_or_without_one_has_no_url(
    server: HttpServer, tmp_path: Path
) -> None:
    sink = EventsApiSink(server)  # no [snapshots] dir: no route either
    sink.on_event(event("new", 1, 1.0, snapshot_dir=tmp_path))
    assert api(server)["events"][0]["snapshot_url"] is None
    assert get(server, "/snapshots/1.000-1.jpg")[0] == 404


def test_a_clip_gets_the_clips_sinks_url(server: HttpServer) -> None:
    sink = EventsApiSink(server)
    sink.on_event(event("new", 1, 1.0))
    clip = "/var/lib/camera-app/clips/2026-11-29T03-26-11Z.mp4"
    sink.on_event(dataclasses.replace(event("end", 1, 1.0), clip=clip))
    rec = api(server)["events"][0]
    assert rec["clip"] == clip and rec["clip_url"] == "/clips/2026-11-29T03-26-11Z.mp4"
    sink.on_event(dataclasses.replace(event("end", 2, 2.0), clip="/tmp/notes.mp4"))
    assert api(server)["events"][0]["clip_url"] is None  # not a clip name: not served


def test_readers_while_events_arrive(server: HttpServer) -> None:
    """Records change on the sink's thread while handlers serialise them."""
    sink = EventsApiSink(server, max_events=50)
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            sink.on_event(event("new", i, float(i)))
            sink.on_event(event("end", i, float(i)))
            i += 1

    t = threading.Thread(target=produce)
    t.start()
    try:
        versions = [api(server)["version"] for _ in range(20)]
    finally:
        stop.set()
        t.join(5)
    assert versions == sorted(versions) and versions[-1] > versions[0]
    assert api(server)["count"] == 50


# -- the component -------------------------------------------------------------------
def test_build_needs_the_http_server(tmp_path: Path) -> None:
    config = AppConfig.default().with_section("snapshots", SnapshotsConfig(dir=str(tmp_path)))
    ctx = BuildContext(config=config, stats=PipelineStats(), environ={})
    assert events_http.build(EventsApiConfig(), ctx) is None
    with HttpServer(port=0, token=TOKEN) as s:
        ctx.http = s
        assert events_http.build(EventsApiConfig(enabled=False), ctx) is None
        sink = events_http.build(EventsApiConfig(max_events=5), ctx)
        assert isinstance(sink, EventsApiSink)
        assert sink.max_events == 5 and sink.snapshots_dir == str(tmp_path)
        assert sink.tracking  # snapshots turn tracking on
        assert "/snapshots/*" in s.routes.paths() and "/api/events" in s.routes.paths()


def test_registered_in_components() -> None:
    """``[sinks.events_api]`` is a registered sink: run builds it with the server."""
    from camera_app.components import component

    assert component("sinks.events_api").load() is events_http


# -- end to end ----------------------------------------------------------------------
@pytest.mark.fixtures
@pytest.mark.timeout(600)
def test_replay_serves_the_events_and_their_snapshots(
    models_dir: Path, videos_dir: Path, tmp_path: Path
) -> None:
    """The first 25 s of the clip, every frame: person 1 (6.0-19.9 s) ended,
    person 2 (from 22.7 s) still there when the run stops, so ended by it."""
    snaps = tmp_path / "snaps"
    args = [
        "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "--labels", str(models_dir / "coco_labels.txt"),
        "--source", str(videos_dir / "one-by-one-person-detection.mp4"),
        "--snapshots", str(snaps),
        "--max-frames", "250",
    ]  # fmt: skip
    from camera_app.cli import build_parser

    config = config_from_args(build_parser().parse_args(["run", *args]))
    stats = PipelineStats()
    with HttpServer(port=0, token=TOKEN, stats=stats) as server:
        ctx = BuildContext(config=config, stats=stats, environ={}, http=server)
        api_sink = events_http.build(config.section("sinks.events_api") if _registered() else EventsApiConfig(), ctx)  # fmt: skip
        assert api_sink is not None
        source = make_source(config)
        source.start()
        model = Model(model_options(config))
        ctx.model = model
        sinks = [SnapshotsSink(config.section("snapshots")), api_sink]
        pipeline = Pipeline(
            source, model, sinks, pipeline_options(config), stats, build_processors(ctx)
        )
        server.start()
        pipeline.run()
        got = api(server)
        assert got["tracking"] is True
        events = got["events"]
        assert [e["label"] for e in events] == ["person", "person"], events
        assert [e["state"] for e in events] == ["ended", "ended"]
        assert events[0]["start_media_ms"] > events[1]["start_media_ms"]  # newest first
        assert 5500 <= events[1]["start_media_ms"] <= 7000
        assert 21500 <= events[0]["start_media_ms"] <= 23500
        for e in events:
            status, _, body = get(server, f"{e['snapshot_url']}?v={e['snapshot_version']}")
            assert status == 200
            image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape == (432, 768, 3)


def _registered() -> bool:
    from camera_app.components import component

    try:
        component("sinks.events_api")
    except KeyError:
        return False
    return True
