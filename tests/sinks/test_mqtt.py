"""The MQTT sink against a real mosquitto: topics, retained state, Last Will,
rate limit, outages, authentication, TLS, and a real pipeline."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from camera_app.app import build_sinks
from camera_app.cli import main
from camera_app.components import BuildContext
from camera_app.config import AppConfig
from camera_app.errors import ConfigError, SinkError
from camera_app.events import SourceEvent
from camera_app.frames import Frame, SourceInfo
from camera_app.inference.model import load_model
from camera_app.overrides import with_values
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.results import Detections, FrameResult
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sinks.mqtt import MAX_IN_FLIGHT, MQTT_PASSWORD_ENV, MqttSink, label_level
from camera_app.sources import SourceOptions, open_source
from camera_app.stats import PipelineStats
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
Mosquitto = Any  # tests/conftest.py's Mosquitto, from the mosquitto fixtures
TIMEOUT_S = 20.0
INFO = SourceInfo("test", "test", (320, 240), fps=10.0, live=True)
NAMES = ["person", "bicycle", "car", "traffic light"]


# -- builders ------------------------------------------------------------------
class Names:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def name(self, class_id: int) -> str | None:
        return self.names[class_id] if 0 <= class_id < len(self.names) else None


def make_result(i: int, class_ids: list[int], ts_ns: int | None = None) -> FrameResult:
    """Frame ``i`` with one box per class id (labels from NAMES)."""
    n = len(class_ids)
    det = Detections(
        np.tile(np.array([[10, 10, 50, 80]], np.float32), (n, 1)),
        np.full(n, 0.9, np.float32),
        np.array(class_ids, np.int32),
    )
    ts = ts_ns if ts_ns is not None else time.monotonic_ns()
    frame = Frame(np.zeros((240, 320, 3), np.uint8), i, ts, INFO)
    return FrameResult(frame, "ssd", det, labels=Names(NAMES), done_ns=ts + 1_000_000)


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: str
    retain: bool


class Listener:
    """A real paho subscriber recording what arrives under ``topic``; it
    reconnects and resubscribes by itself after a broker restart."""

    def __init__(self, broker: Mosquitto, topic: str, auth: tuple[str, str] | None = None) -> None:
        self.topic = topic
        self.messages: list[Msg] = []
        self.subscriptions = 0
        self._cond = threading.Condition()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid.uuid4().hex}")
        if auth:
            c.username_pw_set(*auth)
        c.reconnect_delay_set(1, 1)
        c.on_connect = lambda client, *_: client.subscribe(topic)
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        self.client = c
        self.wait_subscribed(1)

    def _on_subscribe(self, *_: Any) -> None:
        with self._cond:
            self.subscriptions += 1
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, m: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Msg(m.topic, m.payload.decode(), bool(m.retain)))
            self._cond.notify_all()

    def wait_subscribed(self, n: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.subscriptions >= n, TIMEOUT_S), (
                f"listener not subscribed to {self.topic}"
            )

    def wait_for(
        self, topic: str, payload: str | None = None, retain: bool | None = None, since: int = 0
    ) -> Msg:
        """The first message on ``topic`` (with that payload / retain flag)
        among those received after the first ``since``."""

        def find() -> Msg | None:
            for m in self.messages[since:]:
                if m.topic == topic and payload in (None, m.payload) and retain in (None, m.retain):
                    return m
            return None

        with self._cond:
            found = self._cond.wait_for(find, TIMEOUT_S)
            assert found, f"no {topic} {payload!r} (retain={retain}) in {self.messages[-20:]}"
            return found

    def payloads(self, topic: str) -> list[str]:
        with self._cond:
            return [m.payload for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture()
def listen() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(broker: Mosquitto, topic: str, auth: tuple[str, str] | None = None) -> Listener:
        made.append(Listener(broker, topic, auth))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


@pytest.fixture()
def sinks() -> Iterator[Callable[..., MqttSink]]:
    """MqttSink(...) closed at teardown."""
    made: list[MqttSink] = []

    def make(*args: Any, **kwargs: Any) -> MqttSink:
        made.append(MqttSink(*args, **kwargs))
        return made[-1]

    yield make
    for sink in made:
        sink.close()


def bound(sink: MqttSink) -> MqttSink:
    stats = PipelineStats()
    stats.set_source_state("up")
    sink.bind(stats, lambda: None)
    return sink


def records(caplog: pytest.LogCaptureFixture, needle: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if needle in r.getMessage()]


# -- availability and the Last Will ----------------------------------------------
def test_availability_online_then_offline_on_close(
    mosquitto: Mosquitto, listen: Callable[..., Listener], sinks: Callable[..., MqttSink]
) -> None:
    live = listen(mosquitto, "cam1/#")
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="cam1"))
    live.wait_for("cam1/availability", "online")
    live.wait_for("cam1/source", "up")
    assert sink.wait_connected(TIMEOUT_S)
    # Retained: a client subscribing later gets the current state.
    late = listen(mosquitto, "cam1/availability")
    late.wait_for("cam1/availability", "online", retain=True)

    t0 = time.monotonic()
    sink.close()
    assert time.monotonic() - t0 < 1.5
    live.wait_for("cam1/availability", "offline")
    assert live.payloads("cam1/availability") == ["online", "offline"]
    listen(mosquitto, "cam1/availability").wait_for("cam1/availability", "offline", retain=True)
    assert "cam1/availability" in mosquitto.log()  # the broker saw our retained topic


KILLED = """
import sys
from camera_app.sinks.mqtt import MqttSink
from camera_app.stats import PipelineStats

sink = MqttSink("127.0.0.1", int(sys.argv[1]), topic_prefix="killed", keepalive_s=60)
sink.bind(PipelineStats(), lambda: None)
assert sink.wait_connected(10)
print("connected", flush=True)
sys.stdin.read()
"""


def test_last_will_marks_a_killed_process_offline(
    mosquitto: Mosquitto, listen: Callable[..., Listener]
) -> None:
    live = listen(mosquitto, "killed/availability")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(mosquitto.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"connected\n"
        live.wait_for("killed/availability", "online")
        proc.send_signal(signal.SIGKILL)  # no DISCONNECT, no "offline" from the app
        proc.wait(10)
        # keepalive is 60 s: "offline" this soon is the Last Will on the closed socket.
        live.wait_for("killed/availability", "offline")
        assert live.payloads("killed/availability") == ["online", "offline"]
        listen(mosquitto, "killed/availability").wait_for(
            "killed/availability", "offline", retain=True
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


# -- detections, rate limit, object counts -----------------------------------------
@pytest.mark.parametrize(
    ("rate_hz", "expected"),
    [(2.0, [0, 5, 10, 15, 20]), (4.0, [0, 3, 6, 9, 12, 15, 18]), (0.0, list(range(21)))],
)
def test_rate_limit_follows_the_frame_timestamps(
    mosquitto: Mosquitto,
    listen: Callable[..., Listener],
    sinks: Callable[..., MqttSink],
    rate_hz: float,
    expected: list[int],
) -> None:
    """Frames 100 ms apart in capture time, fed as fast as possible: the rate
    limit counts capture time, not wall-clock time."""
    live = listen(mosquitto, "rate/#")
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="rate", max_rate_hz=rate_hz))
    assert sink.wait_connected(TIMEOUT_S)
    t0 = 1_000_000_000_000
    for i in range(21):
        sink.handle(make_result(i, [0], ts_ns=t0 + i * 100_000_000))
    sink.close()
    live.wait_for("rate/availability", "offline")  # after every detection message
    msgs = [json.loads(p) for p in live.payloads("rate/detections")]
    assert [m["frame_id"] for m in msgs] == expected
    assert [m["detections"][0]["label"] for m in msgs] == ["person"] * len(expected)
    assert sink.published == len(expected) and sink.dropped == 0


def test_object_counts_are_retained_and_change_only(
    mosquitto: Mosquitto, listen: Callable[..., Listener], sinks: Callable[..., MqttSink]
) -> None:
    live = listen(mosquitto, "counts/#")
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="counts", max_rate_hz=0))
    assert sink.wait_connected(TIMEOUT_S)
    for i, ids in enumerate([[0, 0, 2], [0, 2, 0], [0, 3], [3], [], []]):
        sink.handle(make_result(i, ids))
    sink.close()
    live.wait_for("counts/availability", "offline")  # after everything else
    assert live.payloads("counts/objects/person") == ["2", "1", "0"]
    assert live.payloads("counts/objects/car") == ["1", "0"]
    assert live.payloads("counts/objects/traffic_light") == ["1", "0"]
    assert live.payloads("counts/objects/bicycle") == []
    late = listen(mosquitto, "counts/objects/person")
    assert late.wait_for("counts/objects/person", retain=True).payload == "0"


@pytest.mark.parametrize(
    ("label", "level"),
    [("person", "person"), ("traffic light", "traffic_light"), ("a/b+c#", "a_b_c_"), ("", "_")],
)
def test_labels_become_one_topic_level(label: str, level: str) -> None:
    assert label_level(label) == level


def test_counts_left_by_an_earlier_run_are_reset(
    mosquitto: Mosquitto, listen: Callable[..., Listener], sinks: Callable[..., MqttSink]
) -> None:
    old = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="earlier-run")
    old.connect("127.0.0.1", mosquitto.port)
    old.loop_start()
    try:
        old.publish("stale/objects/dog", "2", qos=1, retain=True).wait_for_publish(TIMEOUT_S)
        old.publish("stale/objects/person", "3", qos=1, retain=True).wait_for_publish(TIMEOUT_S)
    finally:
        old.disconnect()
        old.loop_stop()
    live = listen(mosquitto, "stale/objects/#")
    live.wait_for("stale/objects/dog", "2", retain=True)
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="stale"))
    live.wait_for("stale/objects/dog", "0")
    sink.handle(make_result(0, [0]))  # one person now
    live.wait_for("stale/objects/person", "1")
    sink.close()
    assert live.payloads("stale/objects/dog") == ["2", "0"]
    assert listen(mosquitto, "stale/objects/dog").wait_for("stale/objects/dog").payload == "0"


def test_source_events(
    mosquitto: Mosquitto, listen: Callable[..., Listener], sinks: Callable[..., MqttSink]
) -> None:
    live = listen(mosquitto, "src/#")
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="src"))
    live.wait_for("src/source", "up")
    sink.on_event(SourceEvent("source_down", "camera unplugged"))
    live.wait_for("src/source", "down")
    sink.on_event(SourceEvent("source_up"))
    sink.on_event(SourceEvent("end"))
    sink.close()
    live.wait_for("src/availability", "offline")
    assert live.payloads("src/source") == ["up", "down", "up"]


def test_detections_and_counts_from_a_real_pipeline(
    mosquitto: Mosquitto,
    listen: Callable[..., Listener],
    sinks: Callable[..., MqttSink],
    models_dir: Path,
    videos_dir: Path,
    tmp_path: Path,
) -> None:
    """SSD on the person video, every frame: the MQTT detections are the
    JSONL records of the frames the rate limit lets through, and the person
    count follows the log (a person walks in at frame ~62 and is gone from
    ~196: the run ends on an empty scene)."""
    rate_hz = 4.0
    live = listen(mosquitto, "pipe/#")
    mq = sinks("127.0.0.1", mosquitto.port, topic_prefix="pipe", max_rate_hz=rate_hz)
    mq.start()
    assert mq.wait_connected(TIMEOUT_S)  # no frame is due before the broker has us
    log_path = tmp_path / "d.jsonl"
    model = load_model(
        str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        labels=str(models_dir / "coco_labels.txt"),
        num_threads=2,
    )
    source = open_source(str(videos_dir / "one-by-one-person-detection.mp4"), SourceOptions())
    pipeline = Pipeline(
        source, model, [JsonlSink(str(log_path)), mq], PipelineOptions(max_frames=220)
    )
    stats = pipeline.run()
    assert stats.processed == 220
    live.wait_for("pipe/availability", "offline")  # published after everything else

    recs = [json.loads(line) for line in log_path.read_text().splitlines()]
    by_id = {r["frame_id"]: r for r in recs}
    msgs = [json.loads(p) for p in live.payloads("pipe/detections")]
    assert len(msgs) >= 3
    for m in msgs:
        assert m == by_id[m["frame_id"]]  # the JSONL record, verbatim
    gaps_s = np.diff([m["timestamp_ns"] for m in msgs]) / 1e9
    assert (gaps_s >= 1 / rate_hz).all(), gaps_s
    span_s = (recs[-1]["timestamp_ns"] - recs[0]["timestamp_ns"]) / 1e9
    assert len(msgs) <= span_s * rate_hz + 1

    persons = [sum(d["label"] == "person" for d in r["detections"]) for r in recs]
    assert max(persons) >= 1 and persons[-1] == 0, "fixture: a person comes and goes"
    if not stats.dropped.get("sink:mqtt"):  # the sink saw every frame: exact replay
        expected_ids, last = [], None
        for r in recs:
            if last is None or r["timestamp_ns"] - last >= 1e9 / rate_hz:
                expected_ids.append(r["frame_id"])
                last = r["timestamp_ns"]
        assert [m["frame_id"] for m in msgs] == expected_ids
        first = next(i for i, n in enumerate(persons) if n)
        changes = [
            str(n) for i, n in enumerate(persons[first:]) if i == 0 or n != persons[first + i - 1]
        ]
        assert live.payloads("pipe/objects/person") == changes
    person_counts = live.payloads("pipe/objects/person")
    assert "1" in person_counts and person_counts[-1] == "0"
    late = listen(mosquitto, "pipe/objects/person")
    assert late.wait_for("pipe/objects/person", retain=True).payload == "0"


# -- outages -------------------------------------------------------------------------
def test_broker_down_at_start_then_started(
    mosquitto_factory: Callable[..., Mosquitto],
    listen: Callable[..., Listener],
    sinks: Callable[..., MqttSink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "camera_app.sinks.mqtt")
    broker = mosquitto_factory()
    sink = bound(sinks("127.0.0.1", broker.port, topic_prefix="late", max_rate_hz=0))
    assert sink.wait_connect_failures(2, TIMEOUT_S)  # paho keeps retrying
    t0 = time.monotonic()
    for i in range(50):
        sink.handle(make_result(i, [0]))
    assert time.monotonic() - t0 < 1.0, "publishing while disconnected must not block"
    assert sink.dropped == 50 and sink.published == 0 and sink.in_flight == 0

    broker.start()
    assert sink.wait_connected(TIMEOUT_S)
    live = listen(broker, "late/#")
    live.wait_for("late/availability", "online")
    live.wait_for("late/objects/person", "1")  # state kept while offline
    sink.handle(make_result(50, [0]))
    assert json.loads(live.wait_for("late/detections").payload)["frame_id"] == 50

    warnings = records(caplog, "cannot connect")
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, not per retry
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].getMessage() == (
        f"MQTT broker 127.0.0.1:{broker.port}: cannot connect (connection refused); "
        "retrying in the background"
    )
    assert records(caplog, f"MQTT: connected to 127.0.0.1:{broker.port}")


def test_reconnects_after_a_broker_restart(
    mosquitto: Mosquitto,
    listen: Callable[..., Listener],
    sinks: Callable[..., MqttSink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "camera_app.sinks.mqtt")
    live = listen(mosquitto, "restart/#")
    sink = bound(sinks("127.0.0.1", mosquitto.port, topic_prefix="restart", max_rate_hz=0))
    assert sink.wait_connected(TIMEOUT_S)
    sink.handle(make_result(0, [0]))
    live.wait_for("restart/objects/person", "1")

    before = len(live.messages)
    mosquitto.stop()
    assert sink.wait_connected(TIMEOUT_S, connected=False)
    sink.handle(make_result(1, [0, 0]))  # while down: dropped, state kept
    assert sink.dropped == 1
    mosquitto.start()  # same port; persistence off: the broker forgot all retained messages
    assert sink.wait_connected(TIMEOUT_S)
    live.wait_subscribed(2)
    # The state comes back by itself...
    live.wait_for("restart/objects/person", "2", since=before)
    # ...and is retained again for clients subscribing later.
    fresh = listen(mosquitto, "restart/#")
    fresh.wait_for("restart/availability", "online", retain=True)
    fresh.wait_for("restart/objects/person", "2", retain=True)
    fresh.wait_for("restart/source", "up", retain=True)

    sink.handle(make_result(2, [0]))
    live.wait_for("restart/objects/person", "1", since=before)
    fresh.wait_for("restart/detections")
    live.wait_for("restart/detections", since=before)
    assert [json.loads(p)["frame_id"] for p in fresh.payloads("restart/detections")] == [2]
    assert [json.loads(p)["frame_id"] for p in live.payloads("restart/detections")] == [0, 2]
    (lost,) = records(caplog, "connection lost")
    assert lost.levelno == logging.WARNING
    assert lost.getMessage().startswith(
        f"MQTT broker 127.0.0.1:{mosquitto.port}: connection lost ("
    )
    assert records(caplog, f"MQTT: reconnected to 127.0.0.1:{mosquitto.port}")


def test_a_stalled_broker_bounds_what_waits_in_memory(sinks: Callable[..., MqttSink]) -> None:
    """A "broker" that accepts the connection and then never reads: paho's
    buffers stop at MAX_IN_FLIGHT messages, the rest are dropped, and
    ``handle`` never waits."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = server.accept()
        conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted; then read nothing
        accepted.append(conn)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        sink = bound(
            sinks("127.0.0.1", server.getsockname()[1], topic_prefix="stall", max_rate_hz=0)
        )
        assert sink.wait_connected(TIMEOUT_S)
        big = list(range(4)) * 500  # ~2000 detections: ~150 kB of JSON per frame
        slowest = 0.0
        for i in range(200):
            t0 = time.monotonic()
            sink.handle(make_result(i, big))
            slowest = max(slowest, time.monotonic() - t0)
            assert sink.in_flight <= MAX_IN_FLIGHT
        assert sink.dropped > 0
        assert sink.published + sink.dropped == 200
        assert slowest < 0.5
        t0 = time.monotonic()
        sink.close()
        assert time.monotonic() - t0 < sink.close_timeout_s + 0.5
    finally:
        for conn in accepted:
            conn.close()
        server.close()
        t.join(5)


@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1", "connection refused"), ("nonexistent.invalid", "host name not found")],
)
def test_unreachable_broker_is_logged_once_and_close_is_bounded(
    sinks: Callable[..., MqttSink], caplog: pytest.LogCaptureFixture, host: str, reason: str
) -> None:
    caplog.set_level(logging.INFO, "camera_app.sinks.mqtt")
    port = free_port()
    sink = bound(sinks(host, port, topic_prefix="nowhere"))
    assert sink.wait_connect_failures(1, TIMEOUT_S)
    t0 = time.monotonic()
    sink.close()
    assert time.monotonic() - t0 < sink.close_timeout_s + 0.5
    (warning,) = records(caplog, "cannot connect")
    assert warning.getMessage().startswith(f"MQTT broker {host}:{port}: cannot connect ({reason}")
    assert "\n" not in warning.getMessage()


# -- authentication -------------------------------------------------------------------
def test_refused_credentials_are_logged_and_the_pipeline_still_runs(
    mosquitto_factory: Callable[..., Mosquitto],
    sinks: Callable[..., MqttSink],
    caplog: pytest.LogCaptureFixture,
    models_dir: Path,
    videos_dir: Path,
) -> None:
    caplog.set_level(logging.INFO, "camera_app.sinks.mqtt")
    broker = mosquitto_factory(users={"cam": "s3cret"}).start()
    mq = sinks("127.0.0.1", broker.port, username="cam", password="wrong", max_rate_hz=0)
    model = load_model(str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"), num_threads=2)
    source = open_source(str(videos_dir / "head-pose-face-detection-female.gif"))
    stats = Pipeline(source, model, [mq], PipelineOptions(max_frames=10)).run()
    assert stats.processed == 10
    assert stats.handled["mqtt"] + stats.dropped.get("sink:mqtt", 0) == 10
    assert mq.wait_connect_failures(1, TIMEOUT_S) and not mq.connected
    assert mq.published == 0
    (error,) = records(caplog, "refused the connection")
    assert error.levelno == logging.ERROR
    assert error.getMessage() == (
        f"MQTT broker 127.0.0.1:{broker.port}: refused the connection: Not authorized "
        "(check sinks.mqtt.username and the password); retrying"
    )


def test_password_from_the_environment_wins(
    mosquitto_factory: Callable[..., Mosquitto],
    listen: Callable[..., Listener],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = mosquitto_factory(users={"cam": "s3cret", "viewer": "v"}).start()
    live = listen(broker, "auth/availability", auth=("viewer", "v"))
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "s3cret")
    config = with_values(
        AppConfig.default(),
        {
            "model.path": "m.tflite",
            "sinks.mqtt.host": "127.0.0.1",
            "sinks.mqtt.port": broker.port,
            "sinks.mqtt.topic_prefix": "auth",
            "sinks.mqtt.username": "cam",
            "sinks.mqtt.password": "wrong-in-the-file",
        },
    )
    (sink,) = build_sinks(BuildContext(config, PipelineStats(), os.environ))
    assert isinstance(sink, MqttSink)
    try:
        bound(sink)
        assert sink.wait_connected(TIMEOUT_S)
        live.wait_for("auth/availability", "online")
    finally:
        sink.close()


# -- TLS ---------------------------------------------------------------------------
def make_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=camera-app test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


def test_tls(
    mosquitto_factory: Callable[..., Mosquitto],
    sinks: Callable[..., MqttSink],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO, "camera_app.sinks.mqtt")
    ca, cert, key = make_certs(tmp_path)
    broker = mosquitto_factory()
    with broker.config.open("a") as f:
        f.write(f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
    broker.start()

    good = bound(sinks("127.0.0.1", broker.port, topic_prefix="tls", tls=True, ca_file=str(ca)))
    assert good.wait_connected(TIMEOUT_S)
    # The system's CAs do not know ours: refused, logged as a TLS problem.
    bad = bound(sinks("127.0.0.1", broker.port, topic_prefix="tls2", tls=True))
    assert bad.wait_connect_failures(1, TIMEOUT_S) and not bad.connected
    (warning,) = records(caplog, "cannot connect")
    message = warning.getMessage()
    assert f"127.0.0.1:{broker.port}: cannot connect (TLS: " in message
    assert "certificate" in message
    with pytest.raises(SinkError, match=r"^MQTT: TLS CA file .*absent\.pem cannot be loaded"):
        MqttSink("127.0.0.1", tls=True, ca_file=str(tmp_path / "absent.pem"))
    assert MqttSink("broker.lan", tls=True).port == 8883


# -- construction and the command line ---------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"topic_prefix": "cams/#"}, "sinks.mqtt.topic_prefix: expected topic levels"),
        ({"topic_prefix": "/cams"}, "sinks.mqtt.topic_prefix"),
        ({"topic_prefix": ""}, "sinks.mqtt.topic_prefix"),
        ({"host": "bad host"}, 'sinks.mqtt.host: expected a host name or address, got "bad host"'),
        ({"qos": 2}, "sinks.mqtt.qos: expected 0 or 1, got 2"),
        ({"max_rate_hz": -1.0}, "sinks.mqtt.max_rate_hz: expected a number >= 0, got -1.0"),
        ({"password": "pw"}, "sinks.mqtt.password: needs sinks.mqtt.username"),
        ({"client_id": ""}, "sinks.mqtt.client_id: expected a non-empty string"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict[str, Any], expected: str) -> None:
    args = {"host": "127.0.0.1", **kwargs}
    with pytest.raises(ConfigError) as info:
        MqttSink(**args)
    assert str(info.value).startswith(expected)


def test_missing_paho_is_a_one_line_sink_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("paho", "paho.mqtt", "paho.mqtt.client"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(SinkError) as info:
        MqttSink("127.0.0.1")
    assert str(info.value).startswith(
        "MQTT output needs the paho-mqtt package: pip install paho-mqtt"
    )
    assert "\n" not in str(info.value)


def test_client_id_is_stable_and_per_prefix() -> None:
    a, b = MqttSink("h", topic_prefix="cam/a"), MqttSink("h", topic_prefix="cam/a")
    c = MqttSink("h", topic_prefix="cam/b")
    assert a.client_id == b.client_id != c.client_id
    assert a.client_id.startswith(f"camera-app-{socket.gethostname()}-")
    assert MqttSink("h", client_id="garage-cam").client_id == "garage-cam"


def test_run_mqtt_flag(
    mosquitto: Mosquitto,
    listen: Callable[..., Listener],
    models_dir: Path,
    videos_dir: Path,
) -> None:
    live = listen(mosquitto, "camera_app/#")
    code = main(
        [
            "run",
            "--model",
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "--labels",
            str(models_dir / "coco_labels.txt"),
            "--threads",
            "2",
            "--source",
            str(videos_dir / "head-pose-face-detection-female.gif"),
            "--mqtt",
            f"127.0.0.1:{mosquitto.port}",
            "--quiet",
        ]
    )
    assert code == 0
    live.wait_for("camera_app/availability", "offline")
    assert live.wait_for("camera_app/objects/person").payload == "1"  # fixtures: 1 person
    assert live.payloads("camera_app/availability")[-1] == "offline"


def test_build_takes_the_motion_off_delay_from_the_config() -> None:
    """``[motion] off_delay_s`` reaches the sink (it is a core section, not a component)."""
    from camera_app.sinks.mqtt import build as build_mqtt

    config = with_values(
        AppConfig.default(), {"sinks.mqtt.host": "127.0.0.1", "motion.off_delay_s": 7.5}
    )
    sink = build_mqtt(config.section("sinks.mqtt"), BuildContext(config, PipelineStats(), {}))
    assert sink is not None
    try:
        assert sink._motion_off_ns == 7_500_000_000
    finally:
        sink.close()
