"""MQTT: detections and state to a broker (Home Assistant, Node-RED, ...).

Topics, under ``topic_prefix`` (default ``camera_app``; give each camera its
own, e.g. ``camera_app/garage``):

``<prefix>/availability``
    ``online`` / ``offline``, retained. ``offline`` is also the Last Will: the
    broker publishes it when the app dies or its network goes away (after
    1.5 x ``keepalive_s``).
``<prefix>/detections``
    One JSON object per processed frame, the record of the JSONL log
    (``frame_id``, ``timestamp_ns``, ``latency_ms``, ``detections``...), at
    most ``max_rate_hz`` per second of capture time (0: every frame). Not
    retained.
``<prefix>/objects/<label>``
    How many of that label the last frame had, a retained integer, published
    when it changes (``0`` when the label leaves the picture). Labels are
    topic levels with ``/``, ``+``, ``#`` and spaces replaced by ``_``; counts
    a previous run left on labels not seen since are reset to ``0``.
``<prefix>/source``
    ``up`` / ``down``: the camera state, retained.

Retained values are valid while availability is ``online``.

It never slows the pipeline: ``lossless = False``, and paho's network thread
does the I/O. While the broker is unreachable detections are dropped and
counted (never queued), the retained state is kept locally and republished
on every (re)connection, and at most ``MAX_IN_FLIGHT`` messages wait in
paho's buffers. A broker that is down at start is not an error: paho
retries in the background with a capped back-off, and each distinct problem
(refused, unknown host, bad credentials) is logged once, naming the broker.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from camera_app.components import Flag
from camera_app.errors import ConfigError, SinkError
from camera_app.events import Event, SourceEvent
from camera_app.hostport import parse_host_port, show_host_port, valid_host
from camera_app.results import FrameResult
from camera_app.sinks.base import BaseSink
from camera_app.stats import PipelineStats
from camera_app.validation import check_file, opt, show

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
MAX_IN_FLIGHT = 64
"""Messages handed to paho and not yet written (QoS 0) or acknowledged (QoS 1)."""
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
CONNECT_TIMEOUT_S = 5.0


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
)


def build(config: MqttConfig, ctx: BuildContext) -> MqttSink | None:
    if not config.host:
        return None
    password = mqtt_password(config, ctx.environ)
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
    )


def mqtt_password(config: MqttConfig, environ: Mapping[str, str]) -> str | None:
    """The environment wins over the file (a password never has to be in it)."""
    password = environ.get(MQTT_PASSWORD_ENV) or config.password or None
    if password and config.username is None:
        raise ConfigError(
            f"sinks.mqtt.username: required with a password ({MQTT_PASSWORD_ENV} is set)"
        )
    return password


def describe(config: MqttConfig) -> str | None:
    if not config.host:
        return None
    where = show_host_port(config.host, config.port or default_port(config.tls))
    return f"mqtt {where} {config.topic_prefix}/"


def check_files(config: MqttConfig) -> None:
    if config.host and config.ca_file is not None:
        check_file("sinks.mqtt.ca_file", config.ca_file)


def default_port(tls: bool) -> int:
    return DEFAULT_TLS_PORT if tls else DEFAULT_PORT


def check_settings(host: str | None, topic_prefix: str, client_id: str | None) -> None:
    """The checks types and bounds cannot express; errors name the config key."""
    if host is not None and not valid_host(host):
        raise ConfigError(f"sinks.mqtt.host: expected a host name or address, got {show(host)}")
    if (
        not topic_prefix
        or any(c in topic_prefix for c in "+#\0")
        or topic_prefix.startswith("/")
        or topic_prefix.endswith("/")
    ):
        raise ConfigError(
            "sinks.mqtt.topic_prefix: expected topic levels without wildcards (+, #) "
            f"or a leading or trailing /, got {show(topic_prefix)}"
        )
    if client_id is not None and not client_id:
        raise ConfigError('sinks.mqtt.client_id: expected a non-empty string, got ""')


def label_level(label: str) -> str:
    """A label as one topic level: no separators, wildcards or spaces."""
    out = "".join("_" if c in "/+#\0" or c.isspace() else c for c in label)
    return out or "_"


def default_client_id(topic_prefix: str) -> str:
    """Stable across restarts (a restarted app takes over its old session),
    distinct per host and prefix."""
    return f"camera-app-{socket.gethostname()}-{zlib.crc32(topic_prefix.encode()):08x}"


def _describe_os_error(e: BaseException | None) -> str:
    if isinstance(e, socket.gaierror):
        return f"host name not found: {e.strerror}"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT_S:g} s"
    if isinstance(e, ssl.SSLError):
        return f"TLS: {getattr(e, 'verify_message', None) or e.reason or e}"
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e) if e is not None else "connection failed"


def _done(info: Any) -> bool:
    """A publish paho no longer holds: written (QoS 0), acknowledged (QoS 1) or failed."""
    try:
        return bool(info.is_published())
    except (RuntimeError, ValueError):
        return True


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
        self.host = host
        self.port = port or default_port(tls)
        self.prefix = topic_prefix
        self.client_id = client_id or default_client_id(topic_prefix)
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.close_timeout_s = close_timeout_s
        self._period_ns = int(1e9 / max_rate_hz) if max_rate_hz > 0 else 0
        self.availability_topic = f"{topic_prefix}/availability"
        self.detections_topic = f"{topic_prefix}/detections"
        self.source_topic = f"{topic_prefix}/source"
        self.objects_topic = f"{topic_prefix}/objects"
        self.published = 0
        """Detections messages handed to paho."""
        self.dropped = 0
        """Detections messages due but not sent: broker unreachable or behind."""
        self.connect_failures = 0
        """Connection attempts that failed or were refused (tests, tools)."""

        # Two locks, always taken in this order: _io serialises publishing
        # (held across paho calls, so the retained state reaches the broker in
        # the order it changed); _cond guards the state below and is never
        # held across a paho call, since paho calls back into it while
        # holding its own locks.
        self._io = threading.Lock()
        self._in_flight: deque[Any] = deque()  # guarded by _io
        self._cond = threading.Condition()
        self._connected = False
        self._generation = 0
        """Counts connections: what was sent on an earlier one is not on the broker."""
        self._started = False
        self._closing = False
        self._problem: str | None = None
        self._desired: dict[str, str] = {self.availability_topic: "online"}
        """Retained topic -> payload as it should be on the broker."""
        self._sent: dict[str, str] = {}
        """What this connection has published of ``_desired``."""
        self._labels: set[str] = set()
        self._ever_connected = False
        self._socket_error: str | None = None
        self._listening = False
        """Subscribed to our own objects/+ (to see counts an earlier run left)."""
        self._last_sent_ns: int | None = None
        self._client = self._make_client(username, password, tls, ca_file)

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _make_client(
        self, username: str | None, password: str | None, tls: bool, ca_file: str | None
    ) -> Any:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as e:
            raise SinkError(
                f"MQTT output needs the paho-mqtt package: pip install paho-mqtt ({e})"
            ) from e
        self._mqtt = mqtt
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.suppress_exceptions = True  # a failing callback is logged, paho's thread lives on
        client.on_log = self._on_log
        client.will_set(self.availability_topic, "offline", qos=self.qos, retain=True)
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            try:
                client.tls_set(ca_certs=ca_file)
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
                why = getattr(e, "strerror", None) or str(e)
                raise SinkError(
                    f"MQTT: TLS CA file {ca_file or '(system default)'} cannot be loaded ({why})"
                ) from e
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.max_queued_messages_set(MAX_IN_FLIGHT * 2)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        return client

    # -- pipeline side -----------------------------------------------------
    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        with self._cond:
            self._desired[self.source_topic] = "down" if stats.source_state == "down" else "up"
        self.start()

    def start(self) -> None:
        """Connect in the background (``bind`` does this; idempotent)."""
        with self._cond:
            if self._started or self._closing:
                return
            self._started = True
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self._client.loop_start()
        log.info("MQTT: publishing to %s under %s/", self.where, self.prefix)

    def handle(self, result: FrameResult) -> None:
        labels = result.labels
        counts = Counter(
            label_level((labels.name(cid) if labels is not None else None) or str(cid))
            for cid in result.detections.class_id.tolist()
        )
        ts = result.frame.timestamp_ns
        with self._io:
            with self._cond:
                self._labels.update(counts)
                for label in self._labels:
                    self._desired[f"{self.objects_topic}/{label}"] = str(counts.get(label, 0))
                last = self._last_sent_ns
                due = last is None or ts - last >= self._period_ns
                connected = self._connected
            self._sync()
            if not due:
                return
            payload = None
            if connected and not self._backlogged():
                payload = json.dumps(result.to_json_line(), separators=(",", ":"))
            sent = payload is not None and self._publish(self.detections_topic, payload, False)
            with self._cond:
                if sent:
                    self.published += 1
                    self._last_sent_ns = ts
                else:
                    self.dropped += 1

    def on_event(self, event: Event) -> None:
        if not isinstance(event, SourceEvent):
            return
        if event.kind in ("source_down", "source_up"):
            with self._cond:
                self._desired[self.source_topic] = "up" if event.kind == "source_up" else "down"
            with self._io:
                self._sync()

    def idle(self) -> None:
        with self._io:
            self._sync()

    def close(self) -> None:
        """Publish "offline", disconnect and stop paho's thread, all within
        ``close_timeout_s`` (a stalled broker is left behind, not waited for)."""
        deadline = time.monotonic() + self.close_timeout_s
        with self._cond:
            if self._closing:
                return
            self._closing = True
            # paho closes the socket right after sending DISCONNECT: data from
            # the broker still unread then turns the close into a reset, and
            # the broker drops what we sent last (then fires the Last Will).
            # Nothing comes unasked once our subscription is gone.
            self._cond.wait_for(lambda: not self._listening, self.close_timeout_s * 0.25)
            started, connected = self._started, self._connected
            self._desired[self.availability_topic] = "offline"
            self._cond.notify_all()
        if not started:
            return
        info = None
        if connected:
            with self._io:
                info = self._client.publish(self.availability_topic, "offline", self.qos, True)
        if info is not None and info.rc == self._mqtt.MQTT_ERR_SUCCESS:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()) * 0.6)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        # loop_stop() joins paho's thread without a timeout, and that thread
        # may be inside a connect attempt (up to CONNECT_TIMEOUT_S) or stuck
        # on a broker that stopped reading; bound it.
        stopper = threading.Thread(target=self._client.loop_stop, name="mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(max(0.1, deadline - time.monotonic()))
        if stopper.is_alive():
            log.warning(
                "MQTT: network thread for %s still busy after %.1f s; leaving it",
                self.where,
                self.close_timeout_s,
            )
        log.info(
            "MQTT: closed (%d detections messages published, %d dropped)",
            self.published,
            self.dropped,
        )

    # -- state -------------------------------------------------------------
    @property
    def connected(self) -> bool:
        with self._cond:
            return self._connected

    @property
    def in_flight(self) -> int:
        """Messages paho still holds (bounded by MAX_IN_FLIGHT)."""
        with self._io:
            self._backlogged()
            return len(self._in_flight)

    def wait_connected(self, timeout_s: float, connected: bool = True) -> bool:
        """Wait until the connection is (or is not) up (tests, tools)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected is connected, timeout_s)

    def wait_connect_failures(self, n: int, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.connect_failures >= n, timeout_s)

    def _backlogged(self) -> bool:
        """(_io held.)"""
        while self._in_flight and _done(self._in_flight[0]):
            self._in_flight.popleft()
        return len(self._in_flight) >= MAX_IN_FLIGHT

    def _publish(self, topic: str, payload: str, retain: bool) -> bool:
        """(_io held.)"""
        info = self._client.publish(topic, payload, self.qos, retain)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
            return False
        self._in_flight.append(info)
        return True

    def _sync(self) -> None:
        """Publish the retained state the broker does not have yet (_io held)."""
        with self._cond:
            if not self._connected or self._closing:
                return
            generation = self._generation
            todo = [(t, p) for t, p in self._desired.items() if self._sent.get(t) != p]
        for topic, payload in todo:
            if self._backlogged() or not self._publish(topic, payload, retain=True):
                return  # still differs: retried on the next frame or idle tick
            with self._cond:
                if self._generation != generation:
                    return  # reconnected meanwhile: on_connect republishes everything
                self._sent[topic] = payload

    def _report(self, problem: str, level: int) -> None:
        """Log each distinct connection problem once (paho retries quietly)."""
        with self._cond:
            repeated, self._problem = problem == self._problem, problem
        if repeated:
            log.debug("MQTT broker %s: %s", self.where, problem)
        else:
            log.log(level, "MQTT broker %s: %s", self.where, problem)

    # -- paho callbacks (paho's network thread) -----------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            hint = (
                " (check sinks.mqtt.username and the password)"
                if "password" in str(reason).lower() or "authori" in str(reason).lower()
                else ""
            )
            self._report(f"refused the connection: {reason}{hint}; retrying", logging.ERROR)
            with self._cond:  # after the report, as in _on_connect_fail
                self.connect_failures += 1
                self._cond.notify_all()
            return
        with self._cond:
            self._connected = True
            self._generation += 1
            self._listening = True
            self._sent.clear()
            self._problem = None
            again, self._ever_connected = self._ever_connected, True
            self._cond.notify_all()
        with self._io:
            self._sync()
        client.subscribe(f"{self.objects_topic}/+")
        log.info(
            "MQTT: %s %s as %s",
            "reconnected to" if again else "connected to",
            self.where,
            self.client_id,
        )

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this from inside its `except OSError:` clause, so the
        # exception being handled is the reason. Reported before it is
        # counted: whoever waits for the count sees the report too.
        self._report(
            f"cannot connect ({_describe_os_error(sys.exception())}); retrying in the background",
            logging.WARNING,
        )
        with self._cond:
            self.connect_failures += 1
            self._cond.notify_all()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        why, self._socket_error = self._socket_error or str(reason), None
        with self._cond:
            was, self._connected = self._connected, False
            self._generation += 1
            self._listening = False
            self._sent.clear()
            closing = self._closing
            self._cond.notify_all()
        if was and not closing:
            self._report(f"connection lost ({why}); reconnecting", logging.WARNING)

    def _on_log(self, client: Any, userdata: Any, level: int, message: str) -> None:
        # paho logs "Client is not connected" as an error on every retry.
        # Socket errors come back as our "connection lost" line; a failing
        # callback (a bug here) is an error.
        if level == self._mqtt.MQTT_LOG_ERR and message.startswith("Caught exception"):
            paho_log.error("MQTT (paho): %s", message)
            return
        if level == self._mqtt.MQTT_LOG_ERR and "socket" in message:
            self._socket_error = message  # no lock: paho may hold its own here
        paho_log.debug("%s", message)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        # The broker sends the retained counts right after SUBACK, before it
        # reads this: they arrive, and then our own publishes stop echoing back.
        client.unsubscribe(f"{self.objects_topic}/+")

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        with self._cond:
            self._listening = False
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        """Counts retained from an earlier run, for labels not seen since: zero them."""
        if not msg.retain or msg.payload in (b"", b"0"):
            return
        label = msg.topic.rpartition("/")[2]
        with self._cond:
            if label in self._labels or self._closing:
                return
            self._labels.add(label)
            self._desired[msg.topic] = "0"
        with self._io:
            self._sync()
