"""A gated still scene is healthy (issue 15): /healthz stays 200.

``camera-app run --motion --http 127.0.0.1:PORT`` replays a still room in
real time, in its own process, for longer than ``[http] stale_after_s``
(5 s): the model runs on the first frame and the keep-alive only, and
/healthz must answer 200 from one second after its first 200 until the run
stops, because frames keep going through the inference stage (gated) even
though none is inferred. The watchdog's side is in
``tests/commands/test_run.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.fixtures, pytest.mark.timeout(300)]

DURATION_S = 10.0
STALE_AFTER_S = 5.0
"""``[http] stale_after_s``'s default."""
START_WITHIN_S = 120.0
"""Model load and the first frame, generous for a loaded machine."""
POLL_S = 0.1


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_healthz_stays_ok_on_a_gated_still_scene(
    models_dir: Path, still_room_30fps: Path, tmp_path: Path
) -> None:
    port = free_port()
    cmd = [
        sys.executable, "-m", "camera_app", "run",
        "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "--labels", str(models_dir / "coco_labels.txt"),
        "--source", str(still_room_30fps),
        "--realtime", "--loop", "--duration", str(DURATION_S),
        "--motion", "--http", f"127.0.0.1:{port}",
    ]  # fmt: skip
    log_path = tmp_path / "stderr.log"
    checks: list[tuple[float, int, bytes]] = []
    stats: dict[str, int] = {}
    with log_path.open("wb") as log:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ))
    try:
        deadline = time.monotonic() + START_WITHIN_S + DURATION_S
        while time.monotonic() < deadline:
            try:
                status, body = get(port, "/healthz")
            except OSError:  # not listening yet, or closed at the end
                status, body = 0, b""
            checks.append((time.monotonic(), status, body))
            if status == 200:
                try:
                    snap = json.loads(get(port, "/api/stats")[1])
                    stats = {k: int(snap[k]) for k in ("processed", "gated_total", "captured")}
                except (OSError, ValueError):
                    pass
            try:
                proc.wait(timeout=POLL_S)  # the poll interval: ends early when the run does
                break
            except subprocess.TimeoutExpired:
                continue
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    err = log_path.read_text()
    assert rc == 0, err
    ok = [t for t, status, _ in checks if status == 200]
    assert ok, f"/healthz never answered 200: {checks[-3:]}\n{err}"
    # from 1 s after the first 200 until the run stops (its last 200)
    window = [(t, s, b) for t, s, b in checks if ok[0] + 1.0 <= t <= ok[-1]]
    bad = [(round(t - ok[0], 2), s, b) for t, s, b in window if s != 200]
    print(
        f"\n/healthz on a gated still scene: {len(window)} checks over "
        f"{ok[-1] - ok[0]:.1f} s after the first 200, all 200; {stats}",
        file=sys.stderr,
    )
    assert not bad, bad
    assert ok[-1] - ok[0] > STALE_AFTER_S + 1.0, "not long enough to go stale"
    assert len(window) >= 20
    # the scene was gated: the model ran on a handful of frames
    assert stats, "no /api/stats"
    assert stats["processed"] <= 1 + DURATION_S / 5 + 1  # first, keep-alives, a loop restart
    assert stats["gated_total"] >= 10 * stats["processed"]
    assert "not inferred" in err
