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

from camera_app.http import HttpServer
from camera_app.inference.model import load_model
from camera_app.pipeline import Pipeline, PipelineOptions
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


def wait_in_page(browser: Chromium, session: str, condition: str, timeout_ms: int) -> Any:
    """Resolve once ``condition`` (JS, may use ``d`` = body.dataset) holds; the
    page's counters change through attributes, so a MutationObserver wakes it."""
    expr = f"""new Promise(resolve => {{
      const d = document.body.dataset;
      const read = () => ({{framesSeen: +d.framesSeen, statusUpdates: +d.statusUpdates,
        processed: +(document.querySelector('#stats tbody').dataset.processed || 0),
        imgWidth: document.getElementById('stream').naturalWidth,
        error: document.getElementById('error').textContent,
        state: document.getElementById('state').textContent}});
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
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        browser.send("Page.enable", {}, session)
        # The token reaches the page only through its address; it passes it on.
        browser.send("Page.navigate", {"url": f"{live_preview.url}?token={TOKEN}"}, session)
        browser.wait_event("Page.domContentEventFired")
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
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
        ARTIFACTS.mkdir(exist_ok=True)
        png = base64.b64decode(shot["data"])
        assert png.startswith(b"\x89PNG")
        (ARTIFACTS / "web_preview.png").write_bytes(png)
    finally:
        browser.close()
