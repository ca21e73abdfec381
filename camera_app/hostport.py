"""``HOST[:PORT]`` as users type it, IPv6 included."""

from __future__ import annotations

import re

_HOST_PORT = re.compile(
    r"\[(?P<v6>[^\[\]]+)\](?::(?P<v6_port>\d+))?"  # [fd00::2] or [fd00::2]:8883
    r"|(?P<host>[^:\[\]]+)(?::(?P<port>\d+))?"  # broker.lan or broker.lan:1885
    r"|(?P<bare6>[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)"  # fd00::2 (no port)
)


def valid_host(host: str) -> bool:
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        return False
    try:
        host.strip("[]").encode("idna")
    except UnicodeError:
        return False
    return True


def parse_host_port(text: str) -> tuple[str, int | None] | None:
    """``HOST``, ``HOST:PORT``, ``[IPv6]``, ``[IPv6]:PORT`` or a bare IPv6
    address; None when ``text`` is none of these or the port is out of range."""
    m = _HOST_PORT.fullmatch(text)
    if m is None:
        return None
    host = m["v6"] or m["host"] or m["bare6"]
    port_text = m["v6_port"] or m["port"]
    port = int(port_text) if port_text else None
    if (port is not None and not 1 <= port <= 65535) or not valid_host(host):
        return None
    return host, port


def show_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
