"""Requests and responses: the types route handlers see.

A handler takes a :class:`Request` and returns a :class:`Response` (bytes,
or a :class:`FileSlice` the server sends with ``sendfile``). A handler that
streams (the MJPEG preview) writes itself with :meth:`Request.send_head` and
:meth:`Request.write` and returns None; the connection closes after it.
"""

from __future__ import annotations

import email.message
import http.client
import io
import json
import re
import select
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers; larger heads are answered 431."""

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_TOKEN_RE = re.compile(r"(token=)[^&\s]*")


class BadRequest(Exception):
    """A request head that cannot be parsed (answered 400)."""


def redact(target: str) -> str:
    """A request target safe to log: ``?token=`` values masked."""
    return _TOKEN_RE.sub(r"\1***", target)


@dataclass(eq=False)
class FileSlice:
    """``length`` bytes of an open file from ``offset``; the server closes it."""

    file: BinaryIO
    offset: int
    length: int

    def close(self) -> None:
        self.file.close()


@dataclass(eq=False)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    file: FileSlice | None = None
    """Sent after the head instead of ``body`` (see :func:`camera_app.http.files.serve_file`)."""

    @property
    def content_length(self) -> int:
        return self.file.length if self.file is not None else len(self.body)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def text(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, (message + "\n").encode(), headers=dict(headers or {}))


def json_response(status: int, obj: Any) -> Response:
    return Response(status, json.dumps(obj, default=str).encode(), "application/json")


def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def encode_head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"{k}: {v}\r\n" for k, v in headers.items()]
    if any("\r" in line[:-2] or "\n" in line[:-2] for line in lines):
        raise ValueError("a header name or value with a line break")
    return status_line(status) + "".join(lines).encode("latin-1") + b"\r\n"


def canned(status: int, message: str, extra: Mapping[str, str] | None = None) -> bytes:
    """A complete small response that closes the connection (rejections)."""
    body = (message + "\n").encode()
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **SECURITY_HEADERS,
        **(extra or {}),
    }
    return encode_head(status, headers) + body


class Request:
    """One parsed request; on a live connection it can also write a response."""

    def __init__(
        self,
        method: str,
        target: str,
        headers: email.message.Message | Mapping[str, str] | None = None,
        version: str = "HTTP/1.1",
        client_address: tuple[Any, ...] = ("", 0),
        sock: socket.socket | None = None,
    ) -> None:
        self.method, self.target, self.version = method, target, version
        if isinstance(headers, email.message.Message):
            self.headers = headers
        else:
            self.headers = email.message.Message()
            for k, v in (headers or {}).items():
                self.headers[k] = v
        url = urlsplit(target)
        self.path = url.path
        self.query = parse_qs(url.query)
        self.route_tail = ""
        """What a prefix route (``/files/*``) matched after its prefix."""
        self.client_address = client_address
        self.head_sent = False
        self.status = 0
        """The status of a streamed response (``send_head``)."""
        self.detached = False
        self.on_detach: Callable[[], None] | None = None
        self._sock = sock

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def has_body(self) -> bool:
        length = self.header("Content-Length")
        return self.header("Transfer-Encoding") is not None or (
            length is not None and length.strip() != "0"
        )

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.header("Connection") or "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    # -- writing (streaming handlers) --------------------------------------
    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise RuntimeError("this request has no connection")
        return self._sock

    def send_head(
        self, status: int, headers: Mapping[str, str], timeout_s: float | None = None
    ) -> None:
        """Start a streamed response (the connection closes after it);
        ``timeout_s`` bounds every later write: a stalled reader is dropped."""
        sock = self._socket()
        if timeout_s is not None:
            sock.settimeout(timeout_s)
        self.head_sent, self.status = True, status
        sock.sendall(encode_head(status, {**headers, "Connection": "close"}))

    def write(self, data: bytes) -> None:
        self._socket().sendall(data)

    def detach(self) -> None:
        """A long-lived response (a stream) bounded by a cap of its own: it
        stops counting against the server's handler cap."""
        if not self.detached:
            self.detached = True
            if self.on_detach is not None:
                self.on_detach()

    def hung_up(self) -> bool:
        """True once the peer closed its end (readable with nothing to read)."""
        try:
            sock = self._socket()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            if not poller.poll(0):
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def abort(self) -> None:
        """Unblock a write stuck on a stalled peer (from any thread)."""
        if self._sock is None:
            return
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def parse_head(
    head: bytes, client_address: tuple[Any, ...] = ("", 0), sock: socket.socket | None = None
) -> Request:
    """The request line and headers (without the blank line that ends them)."""
    line, _, rest = head.partition(b"\n")
    parts = line.rstrip(b"\r").decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("malformed request line")
    method, target, version = parts
    if not target.startswith("/"):
        raise BadRequest("expected an absolute path")
    try:
        headers = http.client.parse_headers(io.BytesIO(rest + b"\r\n\r\n"))
    except (http.client.HTTPException, ValueError) as e:
        raise BadRequest(str(e)) from None
    return Request(method, target, headers, version, client_address, sock)


def write_response(sock: socket.socket, response: Response, keep_alive: bool) -> None:
    """Head and body (or the file slice, with ``sendfile``); closes the response."""
    headers = {
        "Server": "camera_app",
        "Content-Type": response.content_type,
        "Content-Length": str(response.content_length),
        **SECURITY_HEADERS,
        **response.headers,
        "Connection": "keep-alive" if keep_alive else "close",
    }
    with response:
        head = encode_head(response.status, headers)
        if response.file is None:
            sock.sendall(head + response.body)
            return
        sock.sendall(head)
        part = response.file
        if part.length and sock.sendfile(part.file, part.offset, part.length) != part.length:
            raise OSError("file shrank while being sent")
