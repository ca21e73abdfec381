"""Object events and zone counts over MQTT, against a real mosquitto.

``camera-app run --mqtt`` replays the fixture clip (every frame) with one
zone: the floor in front of the table, where each of the six people who walk
through the room stands (checked by looking, and in the events log: each one
enters it). The broker must carry ``<prefix>/events`` (not retained) with
``new``, ``update`` and ``end`` for six person events, ``objects/person``
and ``table/person`` as retained counts that go back to 0.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from camera_app.cli import main
from tests.conftest import Mosquitto

pytestmark = [pytest.mark.fixtures, pytest.mark.timeout(600)]

TIMEOUT_S = 15.0
PREFIX = "camera_app/lab"
ZONE_TOML = """
[[zones]]
name = "table"
points = [[0.3, 0.6], [0.7, 0.6], [0.7, 1.0], [0.3, 1.0]]
objects = ["person"]
"""


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: str
    retain: bool


class Listener:
    """A paho subscriber keeping everything under ``topic``."""

    def __init__(self, broker: Mosquitto, topic: str) -> None:
        self.messages: list[Msg] = []
        self._cond = threading.Condition()
        self._subscribed = False
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid.uuid4().hex}")
        c.on_connect = lambda client, *_: client.subscribe(topic)
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.connect("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        self.client = c
        with self._cond:
            assert self._cond.wait_for(lambda: self._subscribed, TIMEOUT_S), "not subscribed"

    def _on_subscribe(self, *_: Any) -> None:
        with self._cond:
            self._subscribed = True
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, m: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Msg(m.topic, m.payload.decode(errors="replace"), bool(m.retain)))
            self._cond.notify_all()

    def wait_for(self, topic: str, payload: str) -> None:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(m.topic == topic and m.payload == payload for m in self.messages),
                TIMEOUT_S,
            )
        assert ok, f"no {topic} {payload!r}"

    def on(self, topic: str) -> list[Msg]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def changes(values: list[str]) -> list[str]:
    """Consecutive repeats collapsed."""
    out: list[str] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def test_replay_publishes_events_and_zone_counts(
    mosquitto: Mosquitto, models_dir: Path, videos_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "camera-app.toml"
    config.write_text(f'[sinks.mqtt]\ntopic_prefix = "{PREFIX}"\n{ZONE_TOML}')
    listener = Listener(mosquitto, f"{PREFIX}/#")
    try:
        code = main(
            [
                "run",
                "--config", str(config),
                "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
                "--labels", str(models_dir / "coco_labels.txt"),
                "--source", str(videos_dir / "one-by-one-person-detection.mp4"),
                "--mqtt", f"127.0.0.1:{mosquitto.port}",
                "--quiet",
            ]
        )  # fmt: skip
        assert code == 0
        listener.wait_for(f"{PREFIX}/availability", "offline")  # the last thing it sends
    finally:
        listener.close()

    events_msgs = listener.on(f"{PREFIX}/events")
    events = [json.loads(m.payload) for m in events_msgs]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_id.setdefault(e["id"], []).append(e)
    person = {i: es for i, es in by_id.items() if es[0]["label"] == "person"}
    assert len(person) == 6, sorted(by_id)  # six people walk through the room
    assert len(by_id) == 6, "no other object (the table top's 'tv') is an event"
    for event_id, es in person.items():
        kinds = [e["type"] for e in es]
        assert kinds[0] == "new" and kinds[-1] == "end" and "update" in kinds, (event_id, kinds)
        assert kinds.count("new") == kinds.count("end") == 1
        zone_updates = [e for e in es if e["type"] == "update" and "zone" in e["changes"]]
        assert zone_updates, (event_id, kinds)  # each one walks onto the zone
        assert es[-1]["entered_zones"] == ["table"]
        assert es[-1]["end_time"] is not None and es[-1]["end_media_ms"] > es[0]["start_media_ms"]
    starts = sorted(es[0]["start_media_ms"] for es in person.values())
    ends = sorted(es[-1]["end_media_ms"] for es in person.values())
    assert all(e < s for e, s in zip(ends, starts[1:], strict=False))  # one after another

    objects = [m.payload for m in listener.on(f"{PREFIX}/objects/person")]
    assert "1" in objects and objects[-1] == "0"
    zone = changes([m.payload for m in listener.on(f"{PREFIX}/table/person")])
    assert zone[-1] == "0" and set(zone) <= {"0", "1"}
    assert zone.count("1") >= 6  # at least one visit per person (some step out and back)

    # A subscriber arriving later gets the counts (retained), not the events.
    later = Listener(mosquitto, f"{PREFIX}/#")
    try:
        later.wait_for(f"{PREFIX}/availability", "offline")
        later.wait_for(f"{PREFIX}/objects/person", "0")
        later.wait_for(f"{PREFIX}/table/person", "0")
        assert all(m.retain for m in later.messages)
        assert not later.on(f"{PREFIX}/events")
    finally:
        later.close()
