"""A start-up that waits for its model file and its camera (camera_app/startup.py).

The units drive :class:`StartupWait` with a fake clock and a ``sleep`` that
makes things happen (the model appears, the camera is plugged in), so no
test waits for real time. The end-to-end tests run ``camera-app run --wait``
as the service does, against a notify socket and /healthz.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from camera_app.config import AppConfig, ServiceConfig
from camera_app.errors import ConfigError, ModelError, SourceError, SourceUnavailableError
from camera_app.http.config import HttpConfig
from camera_app.overrides import with_values
from camera_app.signals import Interrupted
from camera_app.startup import StartupWait, missing_model, start_when_ready
from tests.conftest import free_port
from tests.http.conftest import fetch

REPO = Path(__file__).resolve().parents[1]


class FakeNotifier:
    def __init__(self, watchdog_s: float | None = None) -> None:
        self.sent: list[tuple[str, ...]] = []
        self._watchdog_s = watchdog_s

    def notify(self, *fields: str) -> bool:
        self.sent.append(fields)
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def watchdog_interval_s(self) -> float | None:
        return self._watchdog_s


class Clock:
    """Time that moves only when the code under test sleeps; ``on_sleep``
    runs at each sleep (the world changing while the start-up waits)."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda n: None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        assert s > 0
        self.sleeps.append(s)
        self.now += s
        self.on_sleep(len(self.sleeps))


def config_with(tmp_path: Path, interval_s: float = 5.0, listen: str | None = None) -> AppConfig:
    return with_values(
        AppConfig.default(),
        {
            "model.path": str(tmp_path / "models" / "m.tflite"),
            "service": ServiceConfig(wait=True, wait_interval_s=interval_s),
            "http": HttpConfig(listen=listen, insecure_no_auth=True),
        },
    )


def waiter_for(
    config: AppConfig, clock: Clock, notifier: FakeNotifier | None = None
) -> tuple[StartupWait, FakeNotifier]:
    n = notifier or FakeNotifier()
    w = StartupWait(config, n, {}, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    return w, n


def test_missing_model_names_the_key_and_the_file(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    assert (
        missing_model(config) == f"no model: model.path {tmp_path}/models/m.tflite does not exist"
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.tflite").write_bytes(b"x")
    assert missing_model(config) is None
    labels = with_values(config, {"model.labels": str(tmp_path / "labels.txt")})
    assert missing_model(labels) == f"no model: model.labels {tmp_path}/labels.txt does not exist"


def test_waits_for_the_model_then_builds_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_with(tmp_path, interval_s=5.0)
    model = Path(config.model.path or "")

    def appear(n: int) -> None:
        if n == 12:  # the third interval: `camera-app models pull` finished
            model.parent.mkdir()
            model.write_bytes(b"model")

    clock = Clock(appear)
    waiter, notifier = waiter_for(config, clock)
    built: list[bool] = []

    def build() -> str:
        built.append(model.exists())
        return "run"

    with caplog.at_level(logging.INFO, logger="camera_app.startup"):
        result = start_when_ready(
            build,
            check_files=lambda: None,
            missing=lambda: missing_model(config),
            probe_source=lambda: pytest.fail("no camera problem: nothing to probe"),
            waiter=waiter,
        )
    assert result == "run" and built == [True]
    assert waiter.waits == 3 and clock.now == pytest.approx(1015.0)
    status = f"STATUS=waiting: no model: model.path {model} does not exist"
    assert notifier.sent == [("READY=1", status)], "READY once with the reason; no repeats"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "models pull" in warnings[0], warnings
    assert "every 5 s" in warnings[0]


def test_waits_for_the_camera_probing_it_alone_until_it_opens(tmp_path: Path) -> None:
    config = config_with(tmp_path, interval_s=2.0)
    calls: list[str] = []
    plugged = {"at": 3}  # probes before the camera is plugged in

    def build() -> str:
        calls.append("build")
        if len(calls) == 1:
            raise SourceUnavailableError("picamera2:0: no camera 0 (cameras found: none)")
        return "run"

    def probe() -> None:
        calls.append("probe")
        if calls.count("probe") < plugged["at"]:
            raise SourceUnavailableError("picamera2:0: no camera 0 (cameras found: none)")

    clock = Clock()
    waiter, notifier = waiter_for(config, clock)
    (tmp_path / "models").mkdir()
    Path(config.model.path or "").write_bytes(b"model")
    assert (
        start_when_ready(
            build,
            check_files=lambda: None,
            missing=lambda: missing_model(config),
            probe_source=probe,
            waiter=waiter,
        )
        == "run"
    )
    # outputs and the model are built again only once the camera opened alone
    assert calls == ["build", "probe", "probe", "probe", "build"]
    assert notifier.sent == [
        ("READY=1", "STATUS=waiting: no camera: picamera2:0: no camera 0 (cameras found: none)")
    ]


def test_a_changed_reason_is_logged_and_sent_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    waiter, notifier = waiter_for(config_with(tmp_path, interval_s=1.0), clock)
    with caplog.at_level(logging.WARNING, logger="camera_app.startup"):
        for reason in ["no model: a", "no model: a", "no camera: b", "no camera: b"]:
            waiter.wait(reason)
    assert notifier.sent == [
        ("READY=1", "STATUS=waiting: no model: a"),
        ("STATUS=waiting: no camera: b",),
    ]
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "waiting: no model: a",
        "waiting: no camera: b",
    ]


def test_the_watchdog_is_pinged_while_waiting(tmp_path: Path) -> None:
    clock = Clock()
    waiter, notifier = waiter_for(
        config_with(tmp_path, interval_s=30.0), clock, FakeNotifier(watchdog_s=4.0)
    )
    waiter.wait("no model: x")
    waiter.wait("no model: x")
    pings = [i for i, fields in enumerate(notifier.sent) if fields == ("WATCHDOG=1",)]
    assert len(pings) == 16, notifier.sent  # at 0, 4, ... 60 s
    assert max(clock.sleeps) <= 1.0, "short sleeps: a stop is seen within a second"


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("model.path: not a TFLite model"),
        ModelError("model m.tflite: not a TFLite flatbuffer"),
        SourceError("picamera2:0: picamera2 is not available"),
    ],
)
def test_what_waiting_cannot_fix_is_raised_at_once(tmp_path: Path, error: Exception) -> None:
    config = config_with(tmp_path)
    (tmp_path / "models").mkdir()
    Path(config.model.path or "").write_bytes(b"model")
    clock = Clock()
    waiter, notifier = waiter_for(config, clock)

    def fail() -> None:
        raise error

    check, build = (fail, lambda: None) if isinstance(error, ConfigError) else (lambda: None, fail)
    with pytest.raises(type(error)):
        start_when_ready(
            build, check_files=check, missing=lambda: None, probe_source=fail, waiter=waiter
        )
    assert clock.sleeps == [] and notifier.sent == []


def test_healthz_says_why_while_waiting_and_frees_the_port(tmp_path: Path) -> None:
    port = free_port()
    config = config_with(tmp_path, listen=f"127.0.0.1:{port}")
    answers: list[tuple[int, bytes]] = []
    stats: list[object] = []

    def look(n: int) -> None:
        if n == 1:
            status, _, body = fetch(port, "/healthz")
            answers.append((status, body))
            stats.append(fetch(port, "/api/stats")[2])

    clock = Clock(look)
    waiter, _ = waiter_for(config, clock)
    try:
        waiter.wait("no model: model.path /x.tflite does not exist")
    finally:
        waiter.close()
    assert answers == [(503, b"waiting: no model: model.path /x.tflite does not exist\n")]
    assert b'"waiting": "no model: model.path /x.tflite does not exist"' in stats[0]  # type: ignore[operator]
    with socket.socket() as s:  # the run binds it next
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_interrupted_while_waiting_closes_the_server(tmp_path: Path) -> None:
    port = free_port()
    config = config_with(tmp_path, listen=f"127.0.0.1:{port}")

    def sigterm(n: int) -> None:
        raise Interrupted(signal.SIGTERM)

    waiter, _ = waiter_for(config, Clock(sigterm))
    with pytest.raises(Interrupted):
        start_when_ready(
            lambda: None,
            check_files=lambda: None,
            missing=lambda: missing_model(config),
            probe_source=lambda: None,
            waiter=waiter,
        )
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


# -- picamera2 through the real build (the fake at its API boundary) ----------------
def test_no_camera_attached_waits_then_runs(
    fake_picamera2: ModuleType, models_dir: Path, tmp_path: Path
) -> None:
    from camera_app.app import build_run, probe_source

    config = with_values(
        AppConfig.default(),
        {
            "model.path": str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "model.threads": 1,
            "source.spec": "picamera2",
            "service": ServiceConfig(wait=True, wait_interval_s=1.0),
        },
    )
    cameras = list(fake_picamera2.FAKE.cameras)
    fake_picamera2.FAKE.cameras.clear()  # the ribbon cable is out

    def plug_in(n: int) -> None:
        if n == 2:
            fake_picamera2.FAKE.cameras.extend(cameras)

    clock = Clock(plug_in)
    waiter, notifier = waiter_for(config, clock)
    run = start_when_ready(
        lambda: build_run(config),
        check_files=lambda: None,
        missing=lambda: missing_model(config),
        probe_source=lambda: probe_source(config),
        waiter=waiter,
    )
    try:
        assert run.pipeline.source.info.kind == "picamera2"
        assert waiter.waits == 2
        (fields,) = notifier.sent
        assert fields[0] == "READY=1"
        assert fields[1].startswith("STATUS=waiting: no camera: picamera2:0: no camera 0")
    finally:
        run.pipeline.source.stop()
        for sink in run.sinks:
            sink.close()


# -- the service's way: camera-app run --wait ---------------------------------------
class Notify:
    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="notify-")  # short: 107-byte limit
        self.path = str(Path(self.dir.name) / "n.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(30.0)

    def next(self) -> str:
        return self.sock.recv(4096).decode()

    def close(self) -> None:
        self.sock.close()
        self.dir.cleanup()


@pytest.fixture
def notify() -> Iterator[Notify]:
    n = Notify()
    yield n
    n.close()


def start_cli(args: list[str], notify: Notify, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NOTIFY_SOCKET": notify.path,
        "WATCHDOG_USEC": "4000000",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "camera_app", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_service_waits_for_its_model_then_runs(
    models_dir: Path, videos_dir: Path, tmp_path: Path, notify: Notify
) -> None:
    port = free_port()
    model = tmp_path / "models" / "ssd.tflite"
    jsonl = tmp_path / "out.jsonl"
    proc = start_cli(
        [
            "run",
            "--wait",
            "--model",
            str(model),
            "--threads",
            "1",
            "--source",
            str(videos_dir / "one-by-one-person-detection.mp4"),
            "--max-frames",
            "5",
            "--jsonl",
            str(jsonl),
            "--http",
            f"127.0.0.1:{port}",
            "--insecure-no-auth",
        ],
        notify,
        tmp_path,
    )
    try:
        first = notify.next()
        assert first.splitlines() == [
            "READY=1",
            f"STATUS=waiting: no model: model.path {model} does not exist",
        ]
        assert notify.next() == "WATCHDOG=1"  # alive while it waits
        status, _, body = fetch(port, "/healthz")
        assert (status, body) == (
            503,
            f"waiting: no model: model.path {model} does not exist\n".encode(),
        )
        assert proc.poll() is None
        model.parent.mkdir()
        os.symlink(models_dir / "ssd_mobilenet_v1_coco_quant.tflite", model)  # "models pull"
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert err.count("waiting: no model") == 1, err
    assert "Traceback" not in err
    lines = [line for line in jsonl.read_text().splitlines() if '"frame_id"' in line]
    assert len(lines) == 5


def test_service_without_its_camera_waits_and_stops_cleanly(
    models_dir: Path, tmp_path: Path, notify: Notify
) -> None:
    proc = start_cli(
        [
            "run",
            "--wait",
            "--model",
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "--threads",
            "1",
            "--source",
            "/dev/video99",
        ],
        notify,
        tmp_path,
    )
    try:
        first = notify.next().splitlines()
        assert first[0] == "READY=1"
        assert first[1].startswith("STATUS=waiting: no camera: camera /dev/video99: no such device")
        assert notify.next() == "WATCHDOG=1"
        assert proc.poll() is None, "waiting, not exited"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        stopped_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert stopped_s < 10, "a stop while waiting is not held up by the wait"
    assert err.count("waiting: no camera") == 1 and "Traceback" not in err, err


def test_the_installed_config_waits() -> None:
    from camera_app.config import load_config

    config = load_config(REPO / "systemd" / "camera-app.toml", files=False)
    assert config.service.wait is True
    assert config.service.wait_interval_s == 5.0
