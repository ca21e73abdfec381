"""A recording made by ``camera-app run`` plays in the real Chromium, served
by a run's HTTP server: ``/api/recordings`` lists it with its duration, and a
``<video>`` element on ``/recordings/<name>`` reaches ``readyState >= 2``
with that duration, and seeks (range requests).

The first run replays 50 frames of a 10 fps clip every frame (so its
recording is 5.0 s of media time, however fast inference ran); the second
run records into the same folder while serving it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "sinks" / "test_web_browser.py"


def _browser_module() -> ModuleType:
    """The suite's headless Chromium driver (CDP over pipes)."""
    spec = importlib.util.spec_from_file_location("web_browser_driver", BROWSER_TESTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


driver = _browser_module()
pytestmark = pytest.mark.skipif(driver.CHROMIUM is None, reason="chromium not installed")

PLAY = """new Promise(resolve => {
  const v = document.createElement('video');
  v.muted = true; v.preload = 'auto';
  const done = (what) => resolve({what, readyState: v.readyState, duration: v.duration,
    width: v.videoWidth, height: v.videoHeight, time: v.currentTime,
    error: v.error ? v.error.code + ' ' + v.error.message : null});
  v.addEventListener('loadeddata', () => {
    v.addEventListener('seeked', () => done('seeked'), {once: true});
    v.currentTime = 4.0;
  }, {once: true});
  v.addEventListener('error', () => done('error'), {once: true});
  setTimeout(() => done('timeout'), 30000);
  v.src = SRC;
  document.body.appendChild(v);
})"""


def test_a_recording_plays_in_chromium(app: Any, tmp_path: Path) -> None:
    recs = tmp_path / "recs"
    first = app.run(app.args("one-by-one-person-detection.mp4", "--max-frames", "50", "--record-dir", str(recs)))  # fmt: skip
    assert first.proc.returncode == 0, first.stderr
    [made] = list(recs.glob("*.mp4"))

    run = app.start(app.args("one-by-one-person-detection.mp4", "--realtime", "--loop", "--record-dir", str(recs)), http=True)  # fmt: skip
    listing = run.wait_for(
        lambda: (
            (s := run.try_stats()) and s["outputs"].get("record") and run.get("/api/recordings")
        ),
        "the recordings listing",
    )
    status, body = listing
    assert status == 200, body
    entries = json.loads(body)["recordings"]
    assert [e["recording"] for e in entries] == [True, False]  # newest (being written) first
    old = entries[1]
    assert old["name"] == made.name and old["size_bytes"] == made.stat().st_size
    assert old["duration_s"] == pytest.approx(5.0, abs=0.05)
    assert old["start_utc"] is not None and old["url"] == f"/recordings/{made.name}"
    status, head = run.get(old["url"])
    assert status == 200 and head == made.read_bytes()

    browser = driver.Chromium(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        browser.send("Page.enable", {}, session)
        page = f"http://127.0.0.1:{run.port}/api/recordings"  # same origin as the video
        browser.send("Page.navigate", {"url": page}, session)
        browser.wait_event("Page.loadEventFired")
        src = json.dumps(old["url"])
        reply = browser.send(
            "Runtime.evaluate",
            {"expression": PLAY.replace("SRC", src), "awaitPromise": True, "returnByValue": True},
            session,
        )
        played = reply["result"]["value"]
    finally:
        browser.close()
    assert played["what"] == "seeked", played
    assert played["readyState"] >= 2, played
    assert played["duration"] == pytest.approx(old["duration_s"], abs=0.1), played
    assert (played["width"], played["height"]) == (768, 432), played
    assert played["time"] == pytest.approx(4.0, abs=0.11), played
    assert run.stop() == 0, run.stderr
