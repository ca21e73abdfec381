"""The clips sink: the software path (frames encoded here), the packet path
(the source's packets copied), the HTTP route, and event clips end to end on
a real replay, played in the real Chromium.

The end-to-end test replays a 48 s cut of ``one-by-one-person-detection.mp4``
(frames 0-479: the first two people) in real time through ``camera-app
run``'s own composition (``build_run``). The cut is made into ``tmp_path``
with PyAV, each frame stamped with its number in a 144x12 px strip at the
top right (``clipkit.stamp``), so the frames a clip holds are read back
exactly from the file.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import av
import cv2
import pytest

from camera_app.clips.packets import EncodedPacket, PacketBus
from camera_app.clips.planner import ClipPlanner
from camera_app.errors import SinkError
from camera_app.events import ObjectEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.http import HttpServer
from camera_app.results import Detections, FrameResult
from camera_app.sinks import clips as clips_module
from camera_app.sinks.clips import FLAGS, ClipsConfig, ClipsSink, build, clip_url, describe
from camera_app.stats import PipelineStats

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


clipkit = _load("clipkit", HERE.parent / "clips" / "clipkit.py")
INFO = SourceInfo("test", "video", (320, 180), fps=10.0)


def event(kind: str, event_id: str, clip: str) -> ObjectEvent:
    return ObjectEvent(kind, event_id, "person", 0.9, 0.9, (1.0, 2.0, 3.0, 4.0), 0, 0, clip=clip)  # type: ignore[arg-type]  # fmt: skip


def result(i: int, timestamp_ns: int, media_ms: float | None = None) -> FrameResult:
    frame = Frame(clipkit.scene(i), i, timestamp_ns, INFO, media_ms=media_ms)
    return FrameResult(frame, "ssd", Detections.empty())


def stats(pacing: str) -> PipelineStats:
    s = PipelineStats()
    s.source = {"pacing": pacing, "fps": 10.0}
    return s


def test_config_flag_and_summary(tmp_path: Path) -> None:
    assert [f.flag for f in FLAGS] == ["--clips"] and FLAGS[0].key == "dir"
    assert clips_module.uses_tracks(ClipsConfig(dir="x")) and not clips_module.uses_tracks(ClipsConfig())  # fmt: skip
    assert describe(ClipsConfig()) is None
    text = describe(ClipsConfig(dir="/var/clips"))
    assert text is not None and "5 s before, 5 s after" in text and "/var/clips" in text
    ctx = SimpleNamespace(
        section=lambda name: SimpleNamespace(max_disappeared_s=2.0),
        packets=PacketBus(), http=None, clips=None,
    )  # fmt: skip
    assert build(ClipsConfig(), cast(Any, ctx)) is None and ctx.clips is None
    sink = build(ClipsConfig(dir=str(tmp_path)), cast(Any, ctx))
    assert isinstance(sink, ClipsSink) and ctx.clips is sink.planner  # for the events stage
    assert clip_url(str(tmp_path / "2026-11-29T14-02-05Z-part2.mp4")) == "/clips/2026-11-29T14-02-05Z-part2.mp4"  # fmt: skip
    assert clip_url("/etc/passwd") is None and clip_url(None) is None


def test_a_folder_that_cannot_be_made_fails_at_bind(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    config = ClipsConfig(dir=str(tmp_path / "file" / "clips"))
    sink = ClipsSink(config, ClipPlanner(config.dir or ""))
    with pytest.raises(SinkError, match="cannot create the folder"):
        sink.bind(PipelineStats(), lambda: None)


def test_software_path_encodes_clean_frames_on_the_media_clock_when_replaying(
    tmp_path: Path,
) -> None:
    """Every-frame replay runs faster than real time: the clip follows media
    time (0.1 s a frame here), not the 1 ms the frames took."""
    config = ClipsConfig(dir=str(tmp_path), pre_capture_s=1, post_capture_s=1)
    planner = ClipPlanner(tmp_path, pre_capture_s=1, post_capture_s=1)
    sink = ClipsSink(config, planner, PacketBus())
    sink.bind(stats("every-frame"), lambda: None)
    assert not sink.copying
    path = ""
    for i in range(80):
        if i == 33:  # seen from frame 30
            path = planner.open("a", 3.0, 3.3)
            sink.on_event(event("new", "a", path))
        if i == 60:  # last seen at frame 40
            planner.close("a", 4.0)
            sink.on_event(event("end", "a", path))
        sink.handle(result(i, 5_000_000_000 + i * 1_000_000, media_ms=i * 100.0))
    sink.close()
    got = clipkit.frames_in(Path(path))
    assert got.codec == "h264" and got.decode_errors == 0
    assert got.numbers == list(range(20, 51))  # 3 s - 1 s to 4 s + 1 s
    assert got.times_s[-1] == pytest.approx(3.0, abs=0.01)
    assert sink.output_health().ok and sink.encoder is not None


def _nal_payloads_mp4(path: Path) -> list[bytes]:
    """The NAL units of every packet of an MP4 (length-prefixed there)."""
    out = []
    with av.open(str(path)) as c:
        for p in c.demux(video=0):
            data = bytes(p)
            while data:
                n = int.from_bytes(data[:4], "big")
                out.append(data[4 : 4 + n])
                data = data[4 + n :]
    return out


def test_the_sink_wants_packets_before_the_source_starts_and_lets_go_without_a_producer(
    tmp_path: Path,
) -> None:
    """The Pi camera starts its hardware encoder only when someone subscribed
    (``PacketBus.wanted``) as it starts, which is before sinks are bound."""
    config = ClipsConfig(dir=str(tmp_path / "clips"))
    bus = PacketBus()
    sink = ClipsSink(config, ClipPlanner(config.dir or ""), bus)
    try:
        assert bus.wanted and sink.copying
        sink.bind(stats("every-frame"), lambda: None)  # no source announced a stream
        assert not bus.wanted and not sink.copying  # frames are encoded here instead
    finally:
        sink.close()


def test_packet_path_copies_the_sources_packets_without_encoding(tmp_path: Path) -> None:
    pk: list[EncodedPacket] = clipkit.packets(120)
    bus = PacketBus()
    bus.announce("test camera", pk[0].stream)
    config = ClipsConfig(dir=str(tmp_path), pre_capture_s=2, post_capture_s=3)
    planner = ClipPlanner(tmp_path, pre_capture_s=2, post_capture_s=3)
    sink = ClipsSink(config, planner, bus)
    sink.bind(stats("live"), lambda: None)
    assert sink.copying
    path = ""
    t = [p.pts_ns for p in pk]
    for i, p in enumerate(pk):
        bus.publish(p)  # the camera's thread runs ahead of inference...
        j = i - 3  # ...whose results come 3 frames later
        if j == 53:
            path = planner.open("a", t[50] / 1e9, t[53] / 1e9)
            sink.on_event(event("new", "a", path))
        if j == 90:
            planner.close("a", t[70] / 1e9)
            sink.on_event(event("end", "a", path))
        if j >= 0:
            sink.handle(result(j, t[j]))
    sink.close()
    assert sink.encoder is None  # nothing was encoded here
    got = clipkit.frames_in(Path(path))
    assert got.numbers == list(range(30, 101)) and got.decode_errors == 0
    sent = [u for p in pk[30:101] for _, u in clipkit_nal_units(p.data)]
    assert _nal_payloads_mp4(Path(path)) == sent  # the very same bytes


def test_a_camera_restart_mid_clip_ends_the_file_and_the_clip_goes_on_in_a_part(
    tmp_path: Path,
) -> None:
    before: list[EncodedPacket] = clipkit.packets(80)
    after: list[EncodedPacket] = clipkit.packets(60, first=100, t0_ns=before[0].pts_ns)
    bus = PacketBus()
    bus.announce("camera", before[0].stream)
    planner = ClipPlanner(tmp_path, pre_capture_s=2, post_capture_s=3)
    sink = ClipsSink(ClipsConfig(dir=str(tmp_path)), planner, bus)
    sink.bind(stats("live"), lambda: None)
    for i, p in enumerate(before):
        bus.publish(p)
        if i == 53:
            path = planner.open("a", before[50].pts_ns / 1e9, p.pts_ns / 1e9)
            sink.on_event(event("new", "a", path))
        sink.handle(result(i, p.pts_ns))
    bus.withdraw("camera")  # the camera went away at frame 80...
    sink.idle()
    assert Path(path).stat().st_size > 0 and sink.recorder.finished_files == [path]
    bus.announce("camera", after[0].stream)  # ...and came back at frame 100
    for i, p in enumerate(after, start=100):
        bus.publish(p)
        if i == 140:
            planner.close("a", after[20].pts_ns / 1e9)
            sink.on_event(event("end", "a", path))
        sink.handle(result(i, p.pts_ns))
    sink.close()
    part2 = Path(path).with_name(Path(path).stem + "-part2.mp4")
    assert sink.recorder.finished_files == [path, str(part2)]
    assert clipkit.frames_in(Path(path)).numbers == list(range(30, 80))
    assert clipkit.frames_in(part2).numbers == list(range(100, 151))


def clipkit_nal_units(data: bytes) -> list[tuple[int, bytes]]:
    from camera_app.clips.nal import nal_units

    return nal_units(data)


def test_clips_are_served_with_ranges_and_nothing_else(tmp_path: Path) -> None:
    name = "2026-11-29T14-02-05Z.mp4"
    (tmp_path / name).write_bytes(bytes(range(256)) * 4)
    (tmp_path / "secret.mp4").write_bytes(b"no")
    server = HttpServer(port=0)
    ClipsSink(ClipsConfig(dir=str(tmp_path)), ClipPlanner(tmp_path), None, server)
    server.start()
    try:
        base = server.url.rstrip("/")
        req = urllib.request.Request(f"{base}/clips/{name}", headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 206 and r.headers["Content-Type"] == "video/mp4"
            assert r.headers["Content-Range"] == "bytes 10-19/1024"
            assert r.read() == bytes(range(10, 20))
        for bad in ("secret.mp4", "..%2Fsecret.mp4", "%2E%2E/x.mp4", "nothing-Z.mp4"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(f"{base}/clips/{bad}", timeout=5)
            assert e.value.code == 404, bad
    finally:
        server.close()


# -- end to end: a real replay, the real events stage, the real browser ------

CUT_FRAMES = 480
"""48 s at 10 fps: person 1 (6-20 s) and person 2 (22.7-45 s)."""


def make_cut(videos_dir: Path, out_path: Path) -> None:
    cap = cv2.VideoCapture(str(videos_dir / "one-by-one-person-detection.mp4"))
    with av.open(str(out_path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 768, 432, "yuv420p"
        s.options = {"crf": "12", "preset": "veryfast"}
        for i in range(CUT_FRAMES):
            ok, image = cap.read()
            assert ok, "fixture video too short"
            frame = av.VideoFrame.from_ndarray(clipkit.stamp(image, i), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    cap.release()


def video_state(browser: Any, session: str, url: str) -> dict[str, Any]:
    """Load ``url`` in a ``<video>`` and report once it can play (or fails)."""
    expr = f"""new Promise(resolve => {{
      const v = document.createElement('video');
      v.muted = true; v.preload = 'auto';
      const done = () => resolve({{readyState: v.readyState, duration: v.duration,
        width: v.videoWidth, error: v.error ? v.error.code : null}});
      v.addEventListener('loadeddata', done);
      v.addEventListener('error', done);
      setTimeout(done, 20000);
      v.src = {json.dumps(url)};
      document.body.appendChild(v);
    }})"""
    reply = browser.send(
        "Runtime.evaluate",
        {"expression": expr, "awaitPromise": True, "returnByValue": True},
        session,
    )
    return cast(dict[str, Any], reply["result"]["value"])


@pytest.mark.fixtures
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_event_clips_of_a_realtime_replay_cover_each_event_and_play_in_chromium(
    videos_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    from camera_app.app import build_run, config_from_args
    from camera_app.cli import build_parser

    web = _load("clips_web_browser", HERE / "test_web_browser.py")
    if web.CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    cut = tmp_path / "cut.mp4"
    make_cut(videos_dir, cut)
    pre, post = 3.0, 2.0
    config_file = tmp_path / "camera-app.toml"
    config_file.write_text(f"[clips]\npre_capture_s = {pre}\npost_capture_s = {post}\n")
    args = build_parser().parse_args(
        [
            "run", "--config", str(config_file),
            "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "--labels", str(models_dir / "coco_labels.txt"),
            "--source", str(cut), "--realtime",
            "--clips", str(tmp_path / "clips"), "--events", str(tmp_path / "events.jsonl"),
            "--http", "127.0.0.1:0",
        ]
    )  # fmt: skip
    run = build_run(config_from_args(args))
    assert run.http is not None
    run.http.start()
    try:
        runner = threading.Thread(target=run.pipeline.run, name="pipeline")
        runner.start()
        runner.join(300)
        assert not runner.is_alive()
        records = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
        ends = [r for r in records if r.get("type") == "end" and r["label"] == "person"]
        assert len(ends) >= 2 and all(r["clip"] for r in records if "type" in r)
        by_clip: dict[str, list[dict[str, Any]]] = {}
        for r in ends:
            by_clip.setdefault(r["clip"], []).append(r)
        measured = []
        for path, events in by_clip.items():
            got = clipkit.frames_in(Path(path))
            assert got.codec == "h264" and got.decode_errors == 0 and got.size_wh == (768, 432)
            first_s, last_s = got.numbers[0] / 10, got.numbers[-1] / 10
            want_first = min(e["start_media_ms"] for e in events) / 1000 - pre
            want_last = min(max(e["end_media_ms"] for e in events) / 1000 + post, (CUT_FRAMES - 1) / 10)  # fmt: skip
            measured.append((Path(path).name, first_s, want_first, last_s, want_last))
            assert abs(first_s - want_first) <= 0.5 and abs(last_s - want_last) <= 0.5, measured
            duration = got.times_s[-1] + 0.1
            assert duration == pytest.approx(last_s - first_s + 0.1, abs=0.25)  # real time
        print("clips (name, first s, wanted, last s, wanted):", measured)
        assert sorted(str(p) for p in (tmp_path / "clips").iterdir()) == sorted(by_clip)
        browser = web.Chromium(tmp_path / "profile")
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]  # fmt: skip
            browser.send("Page.enable", {}, session)
            browser.send("Page.navigate", {"url": run.http.url + "healthz"}, session)
            browser.wait_event("Page.loadEventFired")
            for path, *_ in measured:
                expected = clipkit.frames_in(Path(tmp_path / "clips" / path)).times_s[-1]
                state = video_state(browser, session, clip_url(path) or "")
                assert state["error"] is None and state["readyState"] >= 2, state
                assert state["width"] == 768, state
                assert state["duration"] == pytest.approx(expected + 0.1, abs=0.3), state
                print("chromium:", path, state)
        finally:
            browser.close()
    finally:
        run.http.close()
