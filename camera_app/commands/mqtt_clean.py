"""``camera-app mqtt-clean``: remove this camera's Home Assistant entities.

Reads back every discovery config the camera published (retained, under
``<discovery_prefix>/+/<node_id>/+/config``) and deletes each with an empty
retained message, so Home Assistant drops the entities; ``--state`` also
clears the camera's own retained topics (counts, motion, snapshot...).
The install script's uninstall calls it. Broker settings come from
``--config`` (``[sinks.mqtt]``) and the flags.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from camera_app.commands.args import add_config_arg, add_flag
from camera_app.errors import RunError, UsageError
from camera_app.overrides import config_from_args
from camera_app.sinks.mqtt import FLAGS, MqttConfig, mqtt_password
from camera_app.sinks.mqtt.connection import MqttConnection, default_port
from camera_app.sinks.mqtt.discovery import Device

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser("mqtt-clean", help="remove this camera's Home Assistant entities")
    add_config_arg(p)
    add_flag(p, FLAGS[0])  # --mqtt HOST[:PORT]
    p.add_argument("--topic-prefix", default=None, help="the camera's topic prefix")
    p.add_argument(
        "--host-name",
        default=None,
        help="the camera's host name, when cleaning up for another machine (default: this one)",
    )
    p.add_argument(
        "--state", action="store_true", help="also clear the camera's retained state topics"
    )
    p.set_defaults(handler=run, default_log_level="warning")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, files=False)
    m: MqttConfig = config.section("sinks.mqtt")
    prefix = args.topic_prefix or m.topic_prefix
    if not m.host:
        raise UsageError("mqtt-clean: no broker: give --mqtt HOST[:PORT] or [sinks.mqtt] host")
    device = Device.for_camera(prefix, "", m.discovery_prefix, args.host_name)
    found: dict[str, bytes] = {}
    conn = MqttConnection(
        m.host,
        m.port or default_port(m.tls),
        f"camera-app-clean-{os.getpid()}",
        will_topic=None,
        username=m.username,
        password=mqtt_password(m, os.environ),
        tls=m.tls,
        ca_file=m.ca_file,
        qos=1,
    )
    patterns = [device.config_pattern] + ([f"{prefix}/#"] if args.state else [])
    for pattern in patterns:
        conn.probe(pattern, lambda topic, payload, retained: found.update({topic: payload}))
    conn.start()
    try:
        if not conn.wait_probed(TIMEOUT_S):
            raise RunError(f"mqtt-clean: broker {conn.where} did not answer in {TIMEOUT_S:g} s")
        topics = sorted(t for t, payload in found.items() if payload)
        conn.retain(dict.fromkeys(topics, b""))
        if not conn.wait_retained(TIMEOUT_S):
            raise RunError(f"mqtt-clean: broker {conn.where} did not take the deletions")
    finally:
        conn.close()
    configs = sum(1 for t in topics if t.endswith("/config"))
    print(
        f"removed {configs} Home Assistant entities of {device.node_id}"
        + (f" and {len(topics) - configs} retained topics under {prefix}/" if args.state else "")
    )
    return 0
