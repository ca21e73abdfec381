"""Home Assistant MQTT discovery: the camera shows up with its entities by itself.

Follows Home Assistant's MQTT discovery format as documented for 2024.x-2025.x:
one retained config message per entity on
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` (the
per-entity form, supported by every release since discovery exists; the
newer single "device" message is not used), each with a ``unique_id``, the
shared ``device`` block, ``origin``, and the camera's availability topic.
Home Assistant announces itself on ``<discovery_prefix>/status`` with
``online`` after a restart; the configs are then sent again. An empty
retained payload on a config topic removes the entity (``mqtt-clean``).

Entities, all attached to one device per camera (``node_id`` from the host
name and the topic prefix, so a restart never duplicates them):

* ``sensor`` ``<label> count`` and ``binary_sensor`` ``<label> occupancy``
  per tracked label (state: ``<prefix>/objects/<label>``);
* the same per zone and label (state: ``<prefix>/<zone>/<label>``);
* ``binary_sensor`` ``motion`` (``<prefix>/motion``: ``ON``/``OFF``);
* ``image`` ``snapshot``: the latest event snapshot, JPEG bytes on
  ``<prefix>/snapshot``;
* ``sensor`` ``fps`` and ``inference`` (ms), from ``<prefix>/stats``.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from camera_app import __version__

OCCUPIED = "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"


def slug(text: str) -> str:
    """Lower-case letters, digits and ``_``: what Home Assistant ids allow."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "_"


@dataclass(frozen=True, slots=True)
class Device:
    node_id: str
    name: str
    model: str
    prefix: str
    """The camera's topic prefix."""
    discovery_prefix: str = "homeassistant"

    @classmethod
    def for_camera(
        cls, topic_prefix: str, model: str, discovery_prefix: str, host: str | None = None
    ) -> Device:
        host = host or socket.gethostname()
        node = slug(f"camera_app_{host}_{topic_prefix}")
        return cls(node, f"camera_app {host} {topic_prefix}", model, topic_prefix, discovery_prefix)

    def block(self) -> dict[str, Any]:
        return {
            "identifiers": [self.node_id],
            "name": self.name,
            "manufacturer": "camera_app",
            "model": self.model,
            "sw_version": __version__,
        }

    def config_topic(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    @property
    def status_topic(self) -> str:
        """Where Home Assistant announces itself (``online`` after a restart)."""
        return f"{self.discovery_prefix}/status"

    @property
    def config_pattern(self) -> str:
        """Every config this camera published (``mqtt-clean`` reads them back)."""
        return f"{self.discovery_prefix}/+/{self.node_id}/+/config"


def _entity(device: Device, component: str, object_id: str, **fields: Any) -> tuple[str, str]:
    payload = {
        "unique_id": f"{device.node_id}_{object_id}",
        "object_id": f"{device.node_id}_{object_id}",
        "device": device.block(),
        "origin": {"name": "camera_app", "sw_version": __version__},
        "availability_topic": f"{device.prefix}/availability",
        **fields,
    }
    return device.config_topic(component, object_id), json.dumps(payload, sort_keys=True)


def camera_entities(device: Device) -> dict[str, str]:
    """The entities every camera has: motion, snapshot, fps, inference time."""
    p = device.prefix
    return dict(
        [
            _entity(
                device,
                "binary_sensor",
                "motion",
                name="Motion",
                device_class="motion",
                state_topic=f"{p}/motion",
                payload_on="ON",
                payload_off="OFF",
            ),
            _entity(
                device,
                "image",
                "snapshot",
                name="Snapshot",
                image_topic=f"{p}/snapshot",
                content_type="image/jpeg",
            ),
            _entity(
                device,
                "sensor",
                "fps",
                name="Inference FPS",
                state_topic=f"{p}/stats",
                value_template="{{ value_json.fps }}",
                unit_of_measurement="fps",
                state_class="measurement",
                entity_category="diagnostic",
            ),
            _entity(
                device,
                "sensor",
                "inference_ms",
                name="Inference time",
                state_topic=f"{p}/stats",
                value_template="{{ value_json.inference_ms }}",
                unit_of_measurement="ms",
                device_class="duration",
                state_class="measurement",
                entity_category="diagnostic",
            ),
        ]
    )


def label_entities(device: Device, label: str, zone: str | None = None) -> dict[str, str]:
    """A count sensor and an occupancy binary sensor for a label, in a zone or anywhere."""
    where = f"{slug(zone)}_" if zone else ""
    state = f"{device.prefix}/{zone}/{label}" if zone else f"{device.prefix}/objects/{label}"
    title = f"{zone} {label}" if zone else label
    return dict(
        [
            _entity(
                device,
                "sensor",
                f"{where}{slug(label)}_count",
                name=f"{title} count".capitalize(),
                state_topic=state,
                unit_of_measurement="objects",
                state_class="measurement",
            ),
            _entity(
                device,
                "binary_sensor",
                f"{where}{slug(label)}_occupancy",
                name=f"{title} occupancy".capitalize(),
                device_class="occupancy",
                state_topic=state,
                value_template=OCCUPIED,
            ),
        ]
    )


def all_entities(
    device: Device, labels: Iterable[str], zones: Mapping[str, Iterable[str]]
) -> dict[str, str]:
    """Config topic -> payload for the camera, its labels and its zones' labels."""
    out = camera_entities(device)
    for label in labels:
        out.update(label_entities(device, label))
    for zone, zone_labels in zones.items():
        for label in zone_labels:
            out.update(label_entities(device, label, zone))
    return out
