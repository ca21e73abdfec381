"""The sinks a bench scenario runs, built fresh for each measured mode.

``--sinks`` names them: ``jsonl`` (detections log), ``overlay`` (draw the
annotated frame, as a preview does, without showing it), ``record`` (the
annotated stream to an .mp4) and ``web`` (the MJPEG web preview, with
``web_clients`` viewers in this process reading the stream). Outputs go to
the bench's temporary folder.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camera_app.errors import SinkError, UsageError
from camera_app.results import FrameResult
from camera_app.sinks.base import Sink
from camera_app.sinks.jsonl import JsonlSink
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.sinks.record import RecordSink

log = logging.getLogger(__name__)

SINK_NAMES = ("jsonl", "overlay", "record", "web")


def web_available() -> bool:
    return importlib.util.find_spec("camera_app.sinks.web") is not None


def parse_sinks(text: str) -> tuple[str, ...]:
    """``jsonl,overlay,record`` -> names, checked; ``none`` or empty: no sinks."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")
    for n in names:
        if n not in SINK_NAMES:
            raise UsageError(f"bench: unknown sink {n!r}; expected some of {', '.join(SINK_NAMES)}")
    if len(set(names)) != len(names):
        raise UsageError(f"bench: --sinks names a sink twice: {text!r}")
    if "web" in names and not web_available():
        raise UsageError("bench: the web preview sink is not part of this install")
    return names


class OverlaySink(AnnotatingSink):
    """Draws each result (what a preview pays before showing it)."""

    name = "overlay"

    def __init__(self, annotator: Annotator) -> None:
        self.annotator = annotator
        self.frames_drawn = 0

    def handle(self, result: FrameResult) -> None:
        self.annotator.annotate(result)
        self.frames_drawn += 1


class _Viewer:
    """A web preview client reading ``/stream.mjpg`` and counting bytes."""

    def __init__(self, port: int) -> None:
        self.bytes_read = 0
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        self._sock.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        self.status_line = b""
        self._thread = threading.Thread(target=self._read, name="bench-viewer", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buf = bytearray(1 << 16)
        try:
            while True:
                n = self._sock.recv_into(buf)
                if not n:
                    break
                if not self.bytes_read:
                    self.status_line = bytes(buf[: min(n, 64)]).split(b"\r\n")[0]
                self.bytes_read += n
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(2.0)


@dataclass
class SinkSet:
    """The sinks of one measured mode, and the web viewers reading them."""

    sinks: list[Sink]
    viewers: list[_Viewer] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        """What the web preview did: JPEGs encoded, bytes its viewers read."""
        out: dict[str, int] = {}
        for sink in self.sinks:
            encodes = getattr(sink, "jpeg_encodes", None)
            if isinstance(encodes, int):
                out["web_jpeg_encodes"] = encodes
        if self.viewers:
            out["web_bytes_read"] = sum(v.bytes_read for v in self.viewers)
        return out

    def close_viewers(self) -> None:
        for v in self.viewers:
            v.close()
        self.viewers.clear()


def build_sinks(
    names: Sequence[str],
    out_dir: Path,
    tag: str,
    web_clients: int = 1,
    overlay_width: int | None = None,
    record_format: str = "mp4",
) -> SinkSet:
    """Fresh sinks for one mode; outputs named ``<tag>.jsonl``/``<tag>.<record_format>``.
    ``overlay_width``: draw and record at most this wide (as ``run`` does)."""
    annotator = Annotator(max_width=overlay_width)
    sinks: list[Sink] = []
    viewers: list[_Viewer] = []
    for name in names:
        if name == "jsonl":
            sinks.append(JsonlSink(str(out_dir / f"{tag}.jsonl")))
        elif name == "overlay":
            sinks.append(OverlaySink(annotator))
        elif name == "record":
            sinks.append(RecordSink(str(out_dir / f"{tag}.{record_format}"), annotator))
        elif name == "web":
            from camera_app.sinks.web import WebPreviewSink

            web = WebPreviewSink(host="127.0.0.1", port=0, annotator=annotator)
            web.start()
            sinks.append(web)
            try:
                viewers.extend(_Viewer(web.port) for _ in range(web_clients))
            except OSError as e:
                web.close()
                raise SinkError(f"bench: web viewer cannot connect: {e}") from e
            if not web.wait_viewers(lambda n: n >= web_clients, 5.0):
                statuses = {v.status_line.decode(errors="replace") for v in viewers[-web_clients:]}
                for v in viewers:
                    v.close()
                web.close()
                raise SinkError(
                    f"bench: {web.clients} of {web_clients} web viewers connected "
                    f"(server said: {', '.join(sorted(statuses)) or 'nothing'})"
                )
    return SinkSet(sinks, viewers)
