"""MQTT: detections, events and state to a broker, Home Assistant discovery.

The ``[sinks.mqtt]`` component: its config, flags and builder are here; what
is published where is :mod:`camera_app.sinks.mqtt.sink`, the connection
:mod:`camera_app.sinks.mqtt.connection`, the Home Assistant entities
:mod:`camera_app.sinks.mqtt.discovery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camera_app.components import Flag
from camera_app.errors import ConfigError
from camera_app.hostport import parse_host_port, show_host_port
from camera_app.sinks.mqtt import discovery
from camera_app.sinks.mqtt.connection import MAX_IN_FLIGHT, default_port
from camera_app.sinks.mqtt.sink import MqttSink, check_settings, label_level
from camera_app.validation import check_file, opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

__all__ = [
    "CONFIG",
    "FLAGS",
    "MAX_IN_FLIGHT",
    "MQTT_PASSWORD_ENV",
    "MqttConfig",
    "MqttSink",
    "build",
    "check_settings",
    "default_port",
    "describe",
    "label_level",
    "mqtt_password",
]

MQTT_PASSWORD_ENV = "CAMERA_APP_MQTT_PASSWORD"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """[sinks.mqtt] detections and state to an MQTT broker (Home Assistant...)."""

    host: str | None = opt(None, "broker host name or address; absent: no MQTT")
    port: int | None = opt(None, "broker port; absent: 1883, or 8883 with tls", ge=1, le=65535)
    topic_prefix: str = opt("camera_app", "topic root, one per camera (camera_app/garage)")
    client_id: str | None = opt(None, "client id; absent: camera-app-<hostname>-<prefix hash>")
    username: str | None = opt(None, "user name for the broker")
    password: str | None = opt(None, f"password (or env {MQTT_PASSWORD_ENV})")
    tls: bool = opt(False, "connect with TLS")
    ca_file: str | None = opt(None, "CA certificates (PEM) for tls; absent: the system's")
    qos: int = opt(0, "QoS of every message: 0 or 1", ge=0, le=1)
    max_rate_hz: float = opt(
        2.0, "detections messages per second at most; 0: every processed frame", ge=0, le=1000
    )
    keepalive_s: int = opt(
        30, "ping interval; a lost connection shows offline after 1.5x this", ge=5, le=3600
    )
    discovery: bool = opt(False, "announce Home Assistant entities (MQTT discovery)")
    discovery_prefix: str = opt("homeassistant", "Home Assistant's discovery topic prefix")
    stats_interval_s: float = opt(10.0, "publish <prefix>/stats this often", gt=0, le=3600)

    def validate(self) -> None:
        check_settings(self.host, self.topic_prefix, self.client_id)
        if self.ca_file is not None and not self.tls:
            raise ConfigError("sinks.mqtt.ca_file: needs sinks.mqtt.tls = true")
        if self.password is not None and self.username is None:
            raise ConfigError("sinks.mqtt.password: needs sinks.mqtt.username")


def _host_port_flag(text: str) -> dict[str, Any]:
    parsed = parse_host_port(text)
    if parsed is None:
        raise ValueError("HOST or HOST:PORT with a port from 1 to 65535")
    return {"host": parsed[0], "port": parsed[1]}


CONFIG = MqttConfig
FLAGS = (
    Flag(
        "--mqtt",
        None,
        "publish detections and object counts to this MQTT broker (see [sinks.mqtt])",
        metavar="HOST[:PORT]",
        apply=_host_port_flag,
    ),
    Flag(
        "--ha-discovery",
        "discovery",
        "with --mqtt: announce Home Assistant entities (MQTT discovery)",
        store_true=True,
    ),
)


def build(config: MqttConfig, ctx: BuildContext) -> MqttSink | None:
    if not config.host:
        return None
    password = mqtt_password(config, ctx.environ)
    device = None
    if config.discovery:
        device = discovery.Device.for_camera(
            config.topic_prefix,
            Path(ctx.config.model.path or "model").stem,
            config.discovery_prefix,
        )
    zones = {z.name: tuple(getattr(z, "objects", ()) or ()) for z in ctx.section_or("zones", ())}
    track = getattr(ctx.section_or("objects"), "track", ())
    return MqttSink(
        config.host,
        port=config.port,
        topic_prefix=config.topic_prefix,
        client_id=config.client_id,
        username=config.username,
        password=password,
        tls=config.tls,
        ca_file=config.ca_file,
        qos=config.qos,
        max_rate_hz=config.max_rate_hz,
        keepalive_s=config.keepalive_s,
        discovery_device=device,
        labels=track,
        zones=zones,
        motion_off_delay_s=ctx.config.motion.off_delay_s,  # [motion] is a core section
        stats_interval_s=config.stats_interval_s,
    )


def mqtt_password(config: MqttConfig, environ: Mapping[str, str]) -> str | None:
    """The environment wins over the file (a password never has to be in it)."""
    password = environ.get(MQTT_PASSWORD_ENV) or config.password or None
    if password and config.username is None:
        raise ConfigError(
            f"sinks.mqtt.username: required with a password ({MQTT_PASSWORD_ENV} is set)"
        )
    return password


def uses_tracks(config: MqttConfig) -> bool:
    """Events and zone counts on MQTT need tracked objects."""
    return bool(config.host)


def describe(config: MqttConfig) -> str | None:
    if not config.host:
        return None
    where = show_host_port(config.host, config.port or default_port(config.tls))
    return f"mqtt {where} {config.topic_prefix}/"


def check_files(config: MqttConfig) -> None:
    if config.host and config.ca_file is not None:
        check_file("sinks.mqtt.ca_file", config.ca_file)
