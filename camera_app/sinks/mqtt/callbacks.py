"""The connection's side of paho's callbacks (paho's network thread).

A mixin of :class:`~camera_app.sinks.mqtt.connection.MqttConnection`: it
keeps the connection state the callbacks change (connected, generation,
probes) and reports each distinct problem once.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from camera_app.sinks.mqtt.paho import Handler, describe_os_error

log = logging.getLogger("camera_app.sinks.mqtt.connection")


class PahoCallbacks:
    """Needs the attributes below, set by the connection's constructor."""

    client_id: str
    connect_failures: int
    on_connected: Any
    _io: threading.Lock
    _cond: threading.Condition
    _connected: bool
    _generation: int
    _closing: bool
    _problem: str | None
    _sent: dict[str, str | bytes]
    _ever_connected: bool
    _socket_error: str | None
    _probes: dict[str, Handler]
    _follows: dict[str, Handler]
    _probing: int
    _probe_done: bool
    _mqtt: Any
    qos: int

    @property
    def where(self) -> str:  # pragma: no cover - the connection's
        raise NotImplementedError

    def _sync(self) -> None:  # pragma: no cover - the connection's
        raise NotImplementedError

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
            self._probing = len(self._probes)
            self._probe_done = not self._probes
            self._sent.clear()
            self._problem = None
            again, self._ever_connected = self._ever_connected, True
            self._cond.notify_all()
        with self._io:
            self._sync()
        if self._probes:  # one SUBSCRIBE, one SUBACK: then all their retained values came
            client.subscribe([(p, self.qos) for p in self._probes])
        if self._follows:
            client.subscribe([(t, self.qos) for t in self._follows])
        log.info(
            "MQTT: %s %s as %s",
            "reconnected to" if again else "connected to",
            self.where,
            self.client_id,
        )
        if self.on_connected is not None:
            self.on_connected(again)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this from inside its `except OSError:` clause, so the
        # exception being handled is the reason. Reported before it is
        # counted: whoever waits for the count sees the report too.
        self._report(
            f"cannot connect ({describe_os_error(sys.exception())}); retrying in the background",
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
            self._probing = 0
            self._sent.clear()
            closing = self._closing
            self._cond.notify_all()
        if was and not closing:
            self._report(f"connection lost ({why}); reconnecting", logging.WARNING)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        # The broker sends the retained values right after SUBACK, before it
        # reads this: they arrive, and then our own publishes stop echoing back.
        with self._cond:
            probing = self._probing > 0
        if probing:
            client.unsubscribe(list(self._probes))

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        with self._cond:
            self._probing = 0
            self._probe_done = True
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        mqtt = self._mqtt
        for table in (self._follows, self._probes):
            for pattern, handler in table.items():
                if mqtt.topic_matches_sub(pattern, msg.topic):
                    handler(msg.topic, bytes(msg.payload), bool(msg.retain))
                    return
