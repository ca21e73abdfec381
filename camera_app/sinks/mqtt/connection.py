"""One MQTT connection: retained state kept in sync, lossy messages, bounded.

:class:`MqttConnection` wraps paho's client. What the broker should hold
retained is kept here (``retain``) and republished on every (re)connection;
other messages (``publish``) are sent only while connected and not
backlogged, never queued. At most ``MAX_IN_FLIGHT`` messages wait in paho's
buffers, so a stalled broker costs bounded memory. A broker that is down at
start is not an error: paho retries in the background with a capped
back-off, and each distinct problem (refused, unknown host, bad credentials)
is logged once, naming the broker.

``probe`` topics are read once per connection (the retained values an earlier
run left, e.g. object counts to reset) and unsubscribed after SUBACK;
``follow`` topics stay subscribed (Home Assistant's birth message).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from camera_app.sinks.mqtt.callbacks import PahoCallbacks
from camera_app.sinks.mqtt.paho import (
    MAX_IN_FLIGHT,
    Handler,
    default_client_id,
    default_port,
    is_done,
    make_client,
)

__all__ = ["MAX_IN_FLIGHT", "MqttConnection", "default_client_id", "default_port"]

log = logging.getLogger(__name__)


class MqttConnection(PahoCallbacks):
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        will_topic: str | None,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        qos: int = 0,
        keepalive_s: int = 30,
        close_timeout_s: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.close_timeout_s = close_timeout_s
        self.will_topic = will_topic
        self.connect_failures = 0
        """Connection attempts that failed or were refused (tests, tools)."""
        self.on_connected: Callable[[bool], None] | None = None
        """Called (paho's thread) after each connection, with True on a reconnection."""

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
        self._desired: dict[str, str | bytes] = {will_topic: "online"} if will_topic else {}
        """Retained topic -> payload as it should be on the broker."""
        self._sent: dict[str, str | bytes] = {}
        """What this connection has published of ``_desired``."""
        self._ever_connected = False
        self._socket_error: str | None = None
        self._probes: dict[str, Handler] = {}
        self._follows: dict[str, Handler] = {}
        self._probing = 0
        """Probe subscriptions not yet unsubscribed on this connection."""
        self._probe_done = False
        self._client = self._make_client(username, password, tls, ca_file)

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _make_client(
        self, username: str | None, password: str | None, tls: bool, ca_file: str | None
    ) -> Any:
        client, self._mqtt = make_client(
            self.client_id,
            will_topic=self.will_topic,
            qos=self.qos,
            username=username,
            password=password,
            tls=tls,
            ca_file=ca_file,
            on_socket_error=self._note_socket_error,
        )
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        return client

    def _note_socket_error(self, message: str) -> None:
        self._socket_error = message  # no lock: paho may hold its own here

    # -- what the owner calls ------------------------------------------------
    def probe(self, pattern: str, handler: Handler) -> None:
        """Read ``pattern``'s retained values once per connection (before start)."""
        self._probes[pattern] = handler

    def follow(self, topic: str, handler: Handler) -> None:
        """Stay subscribed to ``topic`` (before start)."""
        self._follows[topic] = handler

    def start(self) -> None:
        """Connect in the background (idempotent)."""
        with self._cond:
            if self._started or self._closing:
                return
            self._started = True
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self._client.loop_start()

    def retain(self, values: Mapping[str, str | bytes]) -> None:
        """Set retained topics (an empty payload deletes one) and sync them."""
        with self._io:
            with self._cond:
                self._desired.update(values)
            self._sync()

    def retained(self, topic: str) -> str | bytes | None:
        with self._cond:
            return self._desired.get(topic)

    def resend(self, prefix: str) -> None:
        """Publish the retained topics under ``prefix`` again (Home Assistant
        restarted and asks for its discovery configs)."""
        with self._io:
            with self._cond:
                for topic in [t for t in self._sent if t.startswith(prefix)]:
                    del self._sent[topic]
            self._sync()

    def ready(self) -> bool:
        """Connected with room in flight: worth building a message for."""
        with self._io:
            with self._cond:
                if not self._connected or self._closing:
                    return False
            return not self._backlogged()

    def publish(self, topic: str, payload: str | bytes) -> bool:
        """Send one message now if connected and not backlogged; never queued."""
        with self._io:
            with self._cond:
                if not self._connected or self._closing:
                    return False
            if self._backlogged():
                return False
            return self._publish(topic, payload, retain=False)

    def sync(self) -> None:
        with self._io:
            self._sync()

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

    def wait_probed(self, timeout_s: float) -> bool:
        """Wait until connected and every probe's retained values have arrived
        (the broker sends them before it acknowledges the unsubscribe)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected and self._probe_done, timeout_s)

    def wait_retained(self, timeout_s: float) -> bool:
        """Wait until the broker acknowledged every retained value (QoS 1), or
        they were written to the socket (QoS 0: the broker may still be
        reading them)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._io:
                self._sync()
                with self._cond:
                    synced = all(self._sent.get(t) == p for t, p in self._desired.items())
                infos = list(self._in_flight)
            if synced and all(is_done(i) for i in infos):
                return True
            pending = next((i for i in infos if not is_done(i)), None)
            if pending is not None:
                try:
                    pending.wait_for_publish(max(0.01, deadline - time.monotonic()))
                except (RuntimeError, ValueError):
                    pass
            else:
                with self._cond:
                    self._cond.wait(0.05)  # woken by a (re)connection
        return False

    def wait_connect_failures(self, n: int, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.connect_failures >= n, timeout_s)

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
            # Nothing comes unasked once the probe subscriptions are gone.
            self._cond.wait_for(lambda: self._probing == 0, self.close_timeout_s * 0.25)
            started, connected = self._started, self._connected
            if self.will_topic is not None:
                self._desired[self.will_topic] = "offline"
            self._cond.notify_all()
        if not started:
            return
        info = None
        if connected:
            with self._io:
                if self._follows:
                    self._client.unsubscribe(list(self._follows))
                if self.will_topic is not None:
                    info = self._client.publish(self.will_topic, "offline", self.qos, True)
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

    # -- internals -------------------------------------------------------------
    def _backlogged(self) -> bool:
        """(_io held.)"""
        while self._in_flight and is_done(self._in_flight[0]):
            self._in_flight.popleft()
        return len(self._in_flight) >= MAX_IN_FLIGHT

    def _publish(self, topic: str, payload: str | bytes, retain: bool) -> bool:
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
