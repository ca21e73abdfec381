"""The HTTP server for operations (health, metrics, stats) and the web preview.

One :class:`HttpServer` per run; components add routes to it. See
:mod:`camera_app.http.server`.
"""

from camera_app.http.auth import TOKEN_ENV, AccessPolicy, is_loopback
from camera_app.http.config import HttpConfig, HttpLimits, parse_listen
from camera_app.http.files import safe_join, serve_file, serve_named
from camera_app.http.messages import Request, Response, json_response, text
from camera_app.http.metrics import Family
from camera_app.http.server import HttpServer

__all__ = [
    "TOKEN_ENV",
    "AccessPolicy",
    "Family",
    "HttpConfig",
    "HttpLimits",
    "HttpServer",
    "Request",
    "Response",
    "is_loopback",
    "json_response",
    "parse_listen",
    "safe_join",
    "serve_file",
    "serve_named",
    "text",
]
