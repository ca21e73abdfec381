"""The web preview in a real headless Chromium, driven over the DevTools protocol.

Chromium talks CDP over two pipes (``--remote-debugging-pipe``: it reads
commands from fd 3 and writes replies to fd 4, NUL-separated JSON), so no
websocket client is needed. Chromium fires ``load`` only once for an MJPEG
``<img>``, so the page itself counts picture changes (it samples the image
through a canvas) in ``body[data-frames-seen]`` and successful stats polls in
``body[data-status-updates]``; the test waits on those with a
MutationObserver inside the page.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camera_app.app import (
    build_processors,
    config_from_args,
    make_source,
    model_options,
    pipeline_options,
)
from camera_app.cli import build_parser
from camera_app.components import BuildContext
from camera_app.http import HttpServer
from camera_app.inference.model import Model, load_model
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.sinks import events_http
from camera_app.sinks.snapshots import SnapshotsSink
from camera_app.sinks.web import WebPreviewSink
from camera_app.sources import SourceOptions, open_source
from camera_app.stats import PipelineStats

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TOKEN = "browser-test-token"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install chromium)"
)


class Chromium:
    """A headless Chromium and a minimal CDP client over its debugging pipes."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "--window-size=1280,800",
            "about:blank",
        ]
        # CDP wants its pipes on fds 3 and 4: a fresh single-threaded Python
        # moves them there and execs Chromium (preexec_fn is unsafe with the
        # pipeline's threads running; dash cannot name fds above 9).
        wire = (
            "import os, sys; r, w = (os.dup(int(x)) for x in sys.argv[1:3]); "
            "os.dup2(r, 3); os.dup2(w, 4); os.set_inheritable(3, True); "
            "os.set_inheritable(4, True); os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", wire, str(to_child_r), str(from_child_w), CHROMIUM, *args],
            pass_fds=(to_child_r, from_child_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self._messages: list[dict[str, Any]] = []

    def _read_until(self, match: Any, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                self._messages.append(json.loads(raw))
            for i, msg in enumerate(self._messages):
                if match(msg):
                    del self._messages[i]
                    return msg
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise EOFError("chromium exited")
            self._buf += chunk

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        want = self._id
        reply = self._read_until(lambda m: m.get("id") == want, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply["result"]
        return result

    def wait_event(self, method: str, timeout_s: float = 30) -> dict[str, Any]:
        return self._read_until(lambda m: m.get("method") == method, timeout_s)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


PREVIEW_STATE = """({framesSeen: +d.framesSeen, statusUpdates: +d.statusUpdates,
        processed: +(document.querySelector('#stats tbody').dataset.processed || 0),
        imgWidth: document.getElementById('stream').naturalWidth,
        error: document.getElementById('error').textContent,
        state: document.getElementById('state').textContent})"""
EVENTS_STATE = """({eventsUpdates: +d.eventsUpdates, eventsShown: +d.eventsShown,
        thumbsLoaded: +d.thumbsLoaded,
        items: [...document.querySelectorAll('#events li')].map(li => ({
          id: li.dataset.id, state: li.className, text: li.innerText,
          imgWidth: li.querySelector('img').naturalWidth})),
        panelHidden: document.getElementById('events-panel').hidden,
        error: document.getElementById('error').textContent})"""


def wait_in_page(
    browser: Chromium, session: str, condition: str, timeout_ms: int, read: str = PREVIEW_STATE
) -> Any:
    """Resolve once ``condition`` (JS, may use ``d`` = body.dataset) holds; the
    page's counters change through attributes, so a MutationObserver wakes it.
    Returns ``read`` (JS, may use ``d``) evaluated then."""
    expr = f"""new Promise(resolve => {{
      const d = document.body.dataset;
      const read = () => {read};
      const check = () => {{ if ({condition}) {{ obs.disconnect(); resolve(read()); }} }};
      const obs = new MutationObserver(check);
      obs.observe(document.body, {{attributes: true, subtree: true}});
      setTimeout(() => {{ obs.disconnect(); resolve(read()); }}, {timeout_ms});
      check();
    }})"""
    reply = browser.send(
        "Runtime.evaluate",
        {"expression": expr, "awaitPromise": True, "returnByValue": True},
        session,
    )
    return reply["result"]["value"]


def open_page(browser: Chromium, url: str) -> str:
    """A new tab on ``url``; returns its CDP session."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    browser.send("Page.enable", {}, session)
    browser.send("Page.navigate", {"url": url}, session)
    browser.wait_event("Page.domContentEventFired")
    return str(session)


def screenshot(browser: Chromium, session: str, name: str) -> None:
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
    ARTIFACTS.mkdir(exist_ok=True)
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    (ARTIFACTS / name).write_bytes(png)


@pytest.fixture
def live_preview(models_dir: Path, videos_dir: Path) -> Iterator[WebPreviewSink]:
    model = load_model(
        str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        labels=str(models_dir / "coco_labels.txt"),
        num_threads=1,
    )
    source = open_source(
        str(videos_dir / "face-demographics-walking.gif"),
        SourceOptions(mode="realtime", loop=True),
    )
    # As ``run`` composes it: one HTTP server for the run, the preview on it.
    stats = PipelineStats()
    server = HttpServer(port=0, token=TOKEN, stats=stats)
    sink = WebPreviewSink(server)
    server.start()
    pipeline = Pipeline(source, model, [sink], PipelineOptions(duration_s=90), stats)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run()
        except BaseException as e:
            errors.append(e)

    runner = threading.Thread(target=run, name="pipeline")
    runner.start()
    try:
        yield sink
    finally:
        pipeline.stop()
        runner.join(5.0)
        server.close()
    assert not runner.is_alive() and errors == []


def test_page_shows_live_frames_and_updating_stats(
    live_preview: WebPreviewSink, tmp_path: Path
) -> None:
    browser = Chromium(tmp_path / "profile")
    try:
        # The token reaches the page only through its address; it passes it on.
        session = open_page(browser, f"{live_preview.url}?token={TOKEN}")
        first = wait_in_page(browser, session, "+d.framesSeen >= 3 && +d.statusUpdates >= 2", 30000)
        assert first["framesSeen"] >= 3, first  # the picture changed at least 3 times
        assert first["statusUpdates"] >= 2 and first["error"] == "", first
        assert first["imgWidth"] == 480 and first["state"] == "live", first
        later = wait_in_page(
            browser, session, f"+d.statusUpdates >= {first['statusUpdates'] + 2}", 30000
        )
        assert later["processed"] > first["processed"] > 0, (first, later)
        assert later["framesSeen"] > first["framesSeen"], (first, later)
        assert live_preview.clients == 1
        # no events API on this server: the page hides the list, shows no error
        events = wait_in_page(browser, session, "true", 1000, EVENTS_STATE)
        assert events["panelHidden"] and events["error"] == "", events
        screenshot(browser, session, "web_preview.png")
    finally:
        browser.close()


@pytest.mark.fixtures
@pytest.mark.timeout(600)
def test_page_lists_the_events_of_a_replay_with_their_snapshots(
    models_dir: Path, videos_dir: Path, tmp_path: Path
) -> None:
    """The whole clip, every frame, with snapshots: six people walk through,
    so six person events, each with a thumbnail that loads."""
    config = config_from_args(
        build_parser().parse_args(
            [
                "run",
                "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
                "--labels", str(models_dir / "coco_labels.txt"),
                "--source", str(videos_dir / "one-by-one-person-detection.mp4"),
                "--snapshots", str(tmp_path / "snaps"),
            ]
        )
    )  # fmt: skip
    stats = PipelineStats()
    with HttpServer(port=0, token=TOKEN, stats=stats) as server:
        ctx = BuildContext(config=config, stats=stats, environ={}, http=server)
        api_sink = events_http.build(events_http.EventsApiConfig(), ctx)
        assert api_sink is not None
        source = make_source(config)
        source.start()
        model = Model(model_options(config))
        ctx.model = model
        sinks = [
            WebPreviewSink(server, annotator=ctx.shared_annotator()),
            SnapshotsSink(config.section("snapshots")),
            api_sink,
        ]
        processors = build_processors(ctx)
        pipeline = Pipeline(source, model, sinks, pipeline_options(config), stats, processors)
        server.start()
        pipeline.run()
        assert [e["label"] for e in api_sink.recent()[0]] == ["person"] * 6
        browser = Chromium(tmp_path / "profile")
        try:
            session = open_page(browser, f"{server.url}?token={TOKEN}")
            got = wait_in_page(
                browser,
                session,
                "+d.eventsShown === 6 && +d.thumbsLoaded >= 6",
                60000,
                EVENTS_STATE,
            )
            screenshot(browser, session, "web_events.png")
        finally:
            browser.close()
    assert got["error"] == "" and not got["panelHidden"], got
    assert got["eventsShown"] == 6 and len(got["items"]) == 6, got
    assert all(item["text"].startswith("person ") for item in got["items"]), got
    assert all(item["state"] == "ended" for item in got["items"]), got
    assert got["thumbsLoaded"] == 6, got
    assert all(item["imgWidth"] > 0 for item in got["items"]), got
    newest_first = [float(item["id"].split("-")[0]) for item in got["items"]]
    assert newest_first == sorted(newest_first, reverse=True), got
