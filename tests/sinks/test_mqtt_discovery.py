"""Home Assistant MQTT discovery against a real mosquitto: entities appear with
a run, a second run does not duplicate them, ``mqtt-clean`` removes them."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from camera_app.cli import main
from camera_app.sinks.mqtt.discovery import Device
from tests.conftest import Mosquitto

TIMEOUT_S = 15.0
PREFIX = "cam_ha"


class Retained:
    """Everything retained under ``pattern`` right now: subscribe, then
    publish a marker and wait for it; the broker sends retained messages
    when it takes the subscription, so they all came before the marker."""

    def __init__(self, broker: Mosquitto, pattern: str) -> None:
        self.messages: dict[str, bytes] = {}
        self.live: list[tuple[str, bytes]] = []
        done = threading.Event()
        marker = f"marker/{id(self)}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{id(self)}")

        def on_connect(c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe([(pattern, 1), (marker, 1)])

        def on_subscribe(c: Any, u: Any, mid: Any, codes: Any, p: Any) -> None:
            c.publish(marker, b"x", qos=1)

        def on_message(c: Any, u: Any, m: Any) -> None:
            if m.topic == marker:
                done.set()
            elif m.retain:
                self.messages[m.topic] = bytes(m.payload)
            else:
                self.live.append((m.topic, bytes(m.payload)))

        client.on_connect, client.on_subscribe, client.on_message = (
            on_connect,
            on_subscribe,
            on_message,
        )
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        try:
            assert done.wait(TIMEOUT_S), f"no answer from the broker for {pattern}"
        finally:
            client.disconnect()
            client.loop_stop()


def _config(tmp_path: Path, broker: Mosquitto, models_dir: Path, videos_dir: Path) -> Path:
    path = tmp_path / "cam.toml"
    path.write_text(
        f"""
[source]
spec = "{videos_dir / "one-by-one-person-detection.mp4"}"
[model]
path = "{models_dir / "ssd_mobilenet_v1_coco_quant.tflite"}"
labels = "{models_dir / "coco_labels.txt"}"
[pipeline]
max_frames = 300
[sinks.mqtt]
host = "127.0.0.1"
port = {broker.port}
topic_prefix = "{PREFIX}"
discovery = true
stats_interval_s = 1.0
[[zones]]
name = "table"
points = [[0.4, 0.5], [0.8, 0.5], [0.8, 1.0], [0.4, 1.0]]
objects = ["person"]
"""
    )
    return path


@pytest.mark.fixtures
def test_discovery_announces_every_entity_once_and_mqtt_clean_removes_them(
    tmp_path: Path, mosquitto: Mosquitto, models_dir: Path, videos_dir: Path
) -> None:
    config = _config(tmp_path, mosquitto, models_dir, videos_dir)
    assert main(["run", "--config", str(config), "--quiet"]) == 0
    device = Device.for_camera(PREFIX, "", "homeassistant")
    first = Retained(mosquitto, "homeassistant/#").messages
    configs = {t: json.loads(p) for t, p in first.items() if t.endswith("/config") and p}
    objects = {t.split("/")[3] for t in configs}
    # two labels seen (the SSD calls the window a tv), one zone counting people,
    # and the camera's own entities
    expected = {
        "motion",
        "snapshot",
        "fps",
        "inference_ms",
        "person_count",
        "person_occupancy",
        "tv_count",
        "tv_occupancy",
        "table_person_count",
        "table_person_occupancy",
    }
    assert expected <= objects, sorted(objects)
    for topic, payload in configs.items():
        component = topic.split("/")[1]
        assert topic.split("/")[2] == device.node_id
        assert payload["unique_id"] == f"{device.node_id}_{topic.split('/')[3]}"
        assert payload["device"]["identifiers"] == [device.node_id]
        assert payload["availability_topic"] == f"{PREFIX}/availability"
        state_key = "image_topic" if component == "image" else "state_topic"
        assert payload[state_key].startswith(f"{PREFIX}/"), payload
    # state topics carry valid states after the run
    state = Retained(mosquitto, f"{PREFIX}/#").messages
    assert state[f"{PREFIX}/availability"] == b"offline"  # the run ended cleanly
    assert int(state[f"{PREFIX}/objects/person"]) >= 0
    assert int(state[f"{PREFIX}/table/person"]) >= 0
    stats = json.loads(state[f"{PREFIX}/stats"])
    assert stats["fps"] >= 0 and stats["processed"] > 0
    by_object = {t.split("/")[3]: p for t, p in configs.items()}
    assert by_object["table_person_count"]["state_topic"] == f"{PREFIX}/table/person"

    # a second run announces the same entities: nothing new, nothing doubled
    assert main(["run", "--config", str(config), "--quiet"]) == 0
    second = Retained(mosquitto, "homeassistant/#").messages
    assert {t for t, p in second.items() if p} == set(configs)

    assert main(["mqtt-clean", "--config", str(config)]) == 0
    after = Retained(mosquitto, "homeassistant/#").messages
    assert not {t: p for t, p in after.items() if p}


def test_home_assistant_restart_gets_the_configs_again(mosquitto: Mosquitto) -> None:
    """Home Assistant's birth message makes the sink send its configs again."""
    from camera_app.sinks.mqtt import MqttSink
    from camera_app.stats import PipelineStats

    device = Device.for_camera("birth", "m", "homeassistant")
    sink = MqttSink(  # QoS 1: "retained" below means the broker acknowledged it
        "127.0.0.1", mosquitto.port, topic_prefix="birth", qos=1, discovery_device=device
    )
    seen: list[str] = []
    got = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")

    def on_message(c: Any, u: Any, m: Any) -> None:
        if not m.retain and m.topic.endswith("/motion/config"):
            seen.append(m.topic)
            got.set()

    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe("homeassistant/+/+/+/config", qos=1)
    client.loop_start()
    try:
        stats = PipelineStats()
        stats.set_source_state("up")
        sink.bind(stats, lambda: None)
        assert sink.wait_connected(TIMEOUT_S) and sink.conn.wait_retained(TIMEOUT_S)
        assert Retained(mosquitto, device.config_pattern).messages  # announced once
        seen.clear()
        got.clear()
        client.publish("homeassistant/status", "online", qos=1)
        assert got.wait(TIMEOUT_S), "configs not sent again after Home Assistant's birth"
        assert seen == [device.config_topic("binary_sensor", "motion")]
    finally:
        sink.close()
        client.disconnect()
        client.loop_stop()
