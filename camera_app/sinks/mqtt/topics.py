"""Topic names and payloads: what may be a topic level, snapshot images."""

from __future__ import annotations

import cv2

from camera_app.errors import ConfigError
from camera_app.events import ObjectEvent
from camera_app.hostport import valid_host
from camera_app.validation import show

SNAPSHOT_MAX_WIDTH = 640
RESERVED_LEVELS = frozenset(
    {"availability", "detections", "objects", "events", "motion", "snapshot", "stats", "source"}
)
"""Topic levels under the prefix that a zone may not be named."""


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


def snapshot_jpeg(event: ObjectEvent) -> bytes | None:
    """The event's best frame with its box, at most SNAPSHOT_MAX_WIDTH wide."""
    src = event.snapshot_source
    assert src is not None
    img = src.frame.image
    if src.frame.channel_order != "BGR":
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    scale = min(1.0, SNAPSHOT_MAX_WIDTH / w)
    out = cv2.resize(img, (round(w * scale), round(h * scale))) if scale < 1 else img.copy()
    x1, y1, x2, y2 = (round(v * scale) for v in src.xyxy)
    cv2.rectangle(out, (x1, y1), (x2, y2), (0, 255, 0), 2)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None
