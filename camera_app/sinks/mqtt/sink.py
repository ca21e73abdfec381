"""What the MQTT sink publishes: results and events mapped to topics.

Topics, under ``topic_prefix`` (default ``camera_app``; give each camera its
own, e.g. ``camera_app/garage``):

``<prefix>/availability``
    ``online`` / ``offline``, retained. ``offline`` is also the Last Will: the
    broker publishes it when the app dies or its network goes away (after
    1.5 x ``keepalive_s``).
``<prefix>/detections``
    One JSON object per inferred frame, the record of the JSONL log
    (``frame_id``, ``timestamp_ns``, ``latency_ms``, ``detections``...), at
    most ``max_rate_hz`` per second of capture time (0: every frame). Not
    retained.
``<prefix>/objects/<label>``
    How many of that label the last frame had, a retained integer, published
    when it changes (``0`` when the label leaves the picture). Labels are
    topic levels with ``/``, ``+``, ``#`` and spaces replaced by ``_``; counts
    a previous run left on labels not seen since are reset to ``0``.
``<prefix>/<zone>/<label>``
    Objects of that label in that zone now, retained (``[[zones]]``).
``<prefix>/events``
    One JSON object per event (``new``, ``update``, ``end``): the record of
    the events log. Not retained.
``<prefix>/motion``
    ``ON`` / ``OFF``, retained: ``ON`` as soon as the motion detector sees
    motion, ``OFF`` after ``motion_off_delay_s`` without it.
``<prefix>/snapshot``
    The latest event's snapshot, JPEG bytes, retained.
``<prefix>/stats``
    ``{"fps", "inference_ms", "processed", "dropped", ...}`` every
    ``stats_interval_s``, retained.
``<prefix>/source``
    ``up`` / ``down``: the camera state, retained.

Retained values are valid while availability is ``online``. With
``discovery`` on, Home Assistant entities for all of these are announced
(:mod:`camera_app.sinks.mqtt.discovery`).

It never slows the pipeline: ``lossless = False``, and paho's network thread
does the I/O (:mod:`camera_app.sinks.mqtt.connection`). While the broker is
unreachable detections and events are dropped and counted (never queued);
the retained state is kept locally and republished on every (re)connection.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from camera_app.errors import ConfigError
from camera_app.events import Event, SourceEvent
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.sinks.mqtt.connection import MqttConnection, default_client_id, default_port
from camera_app.sinks.mqtt.discovery import Device, all_entities
from camera_app.sinks.mqtt.topics import (
    RESERVED_LEVELS,
    check_settings,
    label_level,
    snapshot_jpeg,
)
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)


class MqttSink(BaseSink):
    name = "mqtt"
    lossless = False

    def __init__(
        self,
        host: str,
        port: int | None = None,
        topic_prefix: str = "camera_app",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        qos: int = 0,
        max_rate_hz: float = 2.0,
        keepalive_s: int = 30,
        close_timeout_s: float = 2.0,
        *,
        discovery_device: Device | None = None,
        labels: Iterable[str] = (),
        zones: Mapping[str, Iterable[str]] | None = None,
        motion_off_delay_s: float = 30.0,
        stats_interval_s: float = 10.0,
    ) -> None:
        check_settings(host, topic_prefix, client_id)
        if qos not in (0, 1):
            raise ConfigError(f"sinks.mqtt.qos: expected 0 or 1, got {qos}")
        if not max_rate_hz >= 0:
            raise ConfigError(f"sinks.mqtt.max_rate_hz: expected a number >= 0, got {max_rate_hz}")
        if keepalive_s < 1:
            raise ConfigError(
                f"sinks.mqtt.keepalive_s: expected an integer >= 1, got {keepalive_s}"
            )
        if password is not None and username is None:
            raise ConfigError("sinks.mqtt.password: needs sinks.mqtt.username")
        for zone in zones or {}:
            if zone in RESERVED_LEVELS or label_level(zone) != zone:
                raise ConfigError(
                    f"zones: the zone name {zone!r} cannot be an MQTT topic level under "
                    f"{topic_prefix}/ (reserved: {', '.join(sorted(RESERVED_LEVELS))}; "
                    "no spaces, /, + or #)"
                )
        self.prefix = topic_prefix
        self.availability_topic = f"{topic_prefix}/availability"
        self.detections_topic = f"{topic_prefix}/detections"
        self.source_topic = f"{topic_prefix}/source"
        self.objects_topic = f"{topic_prefix}/objects"
        self.events_topic = f"{topic_prefix}/events"
        self.motion_topic = f"{topic_prefix}/motion"
        self.snapshot_topic = f"{topic_prefix}/snapshot"
        self.stats_topic = f"{topic_prefix}/stats"
        self.conn = MqttConnection(
            host,
            port or default_port(tls),
            client_id or default_client_id(topic_prefix),
            will_topic=self.availability_topic,
            username=username,
            password=password,
            tls=tls,
            ca_file=ca_file,
            qos=qos,
            keepalive_s=keepalive_s,
            close_timeout_s=close_timeout_s,
        )
        self.conn.probe(f"{self.objects_topic}/+", self._earlier_count)
        self.device = discovery_device
        if discovery_device is not None:
            self.conn.follow(discovery_device.status_topic, self._ha_status)
        self._period_ns = int(1e9 / max_rate_hz) if max_rate_hz > 0 else 0
        self._motion_off_ns = int(motion_off_delay_s * 1e9)
        self._stats_period_ns = int(stats_interval_s * 1e9)
        self.published = 0
        """Detections messages handed to paho."""
        self.dropped = 0
        """Detections messages due but not sent: broker unreachable or behind."""
        self.events_published = 0
        self.events_dropped = 0
        self._lock = threading.Lock()
        self._labels: set[str] = {label_level(x) for x in labels}
        self._zones: dict[str, set[str]] = {
            z: {label_level(x) for x in ls} for z, ls in (zones or {}).items()
        }
        self._announced: set[str] = set()
        self._last_sent_ns: int | None = None
        self._last_motion_ns: int | None = None
        self._last_stats_ns: int | None = None

    # -- what tests and tools read --------------------------------------------
    host = property(lambda self: self.conn.host)
    port = property(lambda self: self.conn.port)
    client_id = property(lambda self: self.conn.client_id)
    qos = property(lambda self: self.conn.qos)
    keepalive_s = property(lambda self: self.conn.keepalive_s)
    close_timeout_s = property(lambda self: self.conn.close_timeout_s)
    where = property(lambda self: self.conn.where)
    connected = property(lambda self: self.conn.connected)
    in_flight = property(lambda self: self.conn.in_flight)
    connect_failures = property(lambda self: self.conn.connect_failures)

    def wait_connected(self, timeout_s: float, connected: bool = True) -> bool:
        return self.conn.wait_connected(timeout_s, connected)

    def wait_connect_failures(self, n: int, timeout_s: float) -> bool:
        return self.conn.wait_connect_failures(n, timeout_s)

    # -- pipeline side -----------------------------------------------------
    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        state: dict[str, str | bytes] = {
            self.source_topic: "down" if stats.source_state == "down" else "up"
        }
        if self.device is not None:
            state.update(self._discovery(self._labels, self._zones))
        self.conn.retain(state)
        self.start()

    def start(self) -> None:
        """Connect in the background (``bind`` does this; idempotent)."""
        self.conn.start()
        log.info("MQTT: publishing to %s under %s/", self.where, self.prefix)

    def handle(self, result: FrameResult) -> None:
        labels = result.labels
        counts = Counter(
            label_level((labels.name(cid) if labels is not None else None) or str(cid))
            for cid in result.detections.class_id.tolist()
        )
        ts = result.frame.timestamp_ns
        with self._lock:
            new_labels = set(counts) - self._labels
            self._labels.update(counts)
            state: dict[str, str | bytes] = {
                f"{self.objects_topic}/{label}": str(counts.get(label, 0)) for label in self._labels
            }
            for zone, by_label in result.zone_counts.items():
                known = self._zones.setdefault(zone, set())
                seen = {label_level(k): v for k, v in by_label.items()}
                new_labels |= set(seen) - known
                known.update(seen)
            for zone, known in self._zones.items():
                seen = {label_level(k): v for k, v in result.zone_counts.get(zone, {}).items()}
                for label in known:
                    state[f"{self.prefix}/{zone}/{label}"] = str(seen.get(label, 0))
            if result.motion is not None:
                if result.motion.detected:
                    self._last_motion_ns = ts
                on = (
                    self._last_motion_ns is not None
                    and ts - self._last_motion_ns < self._motion_off_ns
                )
                state[self.motion_topic] = "ON" if on else "OFF"
            if self.device is not None and new_labels:
                state.update(self._discovery(self._labels, self._zones))
            last = self._last_sent_ns
            due = result.inferred and (last is None or ts - last >= self._period_ns)
            stats_due = (
                self._last_stats_ns is None or ts - self._last_stats_ns >= self._stats_period_ns
            )
            if stats_due:
                self._last_stats_ns = ts
        if stats_due and self.stats is not None:
            state[self.stats_topic] = self._stats_payload()
        self.conn.retain(state)
        if not due:
            return
        sent = False
        if self.conn.ready():  # a stalled broker costs no JSON
            payload = json.dumps(result.to_json_line(), separators=(",", ":"))
            sent = self.conn.publish(self.detections_topic, payload)
        with self._lock:
            if sent:
                self.published += 1
                self._last_sent_ns = ts
            else:
                self.dropped += 1

    def on_event(self, event: Event) -> None:
        if isinstance(event, SourceEvent):
            if event.kind in ("source_down", "source_up"):
                up = "up" if event.kind == "source_up" else "down"
                self.conn.retain({self.source_topic: up})
            return
        payload = json.dumps(event.to_json(), separators=(",", ":"))
        sent = self.conn.publish(self.events_topic, payload)
        with self._lock:
            if sent:
                self.events_published += 1
            else:
                self.events_dropped += 1
        if event.snapshot_source is not None and (
            event.type == "new" or "snapshot" in event.changes
        ):
            jpeg = snapshot_jpeg(event)
            if jpeg is not None:
                self.conn.retain({self.snapshot_topic: jpeg})

    def idle(self) -> None:
        self.conn.sync()

    def close(self) -> None:
        """Publish "offline", disconnect and stop paho's thread, all within
        ``close_timeout_s`` (a stalled broker is left behind, not waited for)."""
        self.conn.close()
        log.info(
            "MQTT: closed (%d detections messages published, %d dropped; %d events, %d dropped)",
            self.published,
            self.dropped,
            self.events_published,
            self.events_dropped,
        )

    # -- helpers -----------------------------------------------------------
    def _stats_payload(self) -> str:
        assert self.stats is not None
        s = self.stats.snapshot()
        inf = s.timing("inference")
        return json.dumps(
            {
                "fps": s.fps_inference,
                "inference_ms": None if inf is None or inf.p50 is None else round(inf.p50, 2),
                "processed": s.processed,
                "captured": s.captured,
                "not_inferred": s.gated_total,
                "dropped": s.dropped_total,
                "source": s.source_state,
                "failed_outputs": s.failed_outputs(),
            },
            separators=(",", ":"),
        )

    def _discovery(
        self, labels: Iterable[str], zones: Mapping[str, Iterable[str]]
    ) -> dict[str, str | bytes]:
        assert self.device is not None
        configs = all_entities(self.device, sorted(labels), zones)
        self._announced.update(configs)
        return dict(configs)

    def _ha_status(self, topic: str, payload: bytes, retained: bool) -> None:
        """Home Assistant (re)started: send it the configs again."""
        if payload.strip().lower() == b"online" and self.device is not None:
            log.info("MQTT: Home Assistant is online: sending discovery again")
            self.conn.resend(f"{self.device.discovery_prefix}/")

    def _earlier_count(self, topic: str, payload: bytes, retained: bool) -> None:
        """Counts retained from an earlier run, for labels not seen since: zero them."""
        if not retained or payload in (b"", b"0"):
            return
        label = topic.rpartition("/")[2]
        with self._lock:
            if label in self._labels:
                return
            self._labels.add(label)
        self.conn.retain({topic: "0"})
