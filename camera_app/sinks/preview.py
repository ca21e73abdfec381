"""``[preview]``: a live view, as a desktop window (VNC) or a web page.

One component for both, since a run shows at most one preview; the window
and web modules are imported only when chosen (Tk, the HTTP server).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from camera_app.components import Flag
from camera_app.errors import ConfigError
from camera_app.hostport import valid_host
from camera_app.http.auth import TOKEN_ENV
from camera_app.sinks.base import Sink
from camera_app.validation import opt, show

if TYPE_CHECKING:
    from camera_app.components import BuildContext

WEB_TOKEN_ENV = TOKEN_ENV


@dataclass(frozen=True, slots=True)
class PreviewConfig:
    """[preview] live view."""

    mode: Literal["none", "window", "web"] = opt(
        "none", "no preview, a desktop window, or a web page"
    )
    web_host: str = opt("127.0.0.1", "address the web preview listens on")
    web_port: int = opt(8080, "web preview port", ge=1, le=65535)
    token: str | None = opt(None, f"web preview access token (or env {WEB_TOKEN_ENV})")
    insecure_no_auth: bool = opt(False, "serve the web preview without a token")
    max_clients: int = opt(4, "simultaneous web viewers", ge=1, le=100)

    def validate(self) -> None:
        if not valid_host(self.web_host):
            raise ConfigError(
                f"web_host: expected a host name or address, got {show(self.web_host)}"
            )


CONFIG = PreviewConfig
FLAGS = (
    Flag(
        "--preview",
        "mode",
        "a desktop window (VNC) or a web page with the live annotated stream",
        choices=("none", "window", "web"),
    ),
    Flag("--web-host", "web_host", "web preview address (default 127.0.0.1)", metavar="HOST"),
    Flag("--web-port", "web_port", "web preview port (default 8080)", metavar="PORT"),
    Flag(
        "--insecure-no-auth",
        "insecure_no_auth",
        "serve the web preview on a non-local address without a token",
        store_true=True,
    ),
)


def web_token(config: PreviewConfig, environ: Mapping[str, str]) -> str | None:
    """The environment wins over the file: a token never has to be on a command line."""
    return environ.get(WEB_TOKEN_ENV) or config.token or None


def build(config: PreviewConfig, ctx: BuildContext) -> Sink | None:
    if config.mode == "window":
        from camera_app.sinks.window import WindowPreviewSink

        return WindowPreviewSink(annotator=ctx.shared_annotator())
    if config.mode == "web":
        from camera_app.sinks.web import WebPreviewSink

        if ctx.http is not None:  # the run's server: one port for operations and preview
            return WebPreviewSink(
                ctx.http, annotator=ctx.shared_annotator(), max_clients=config.max_clients
            )
        return WebPreviewSink(
            host=config.web_host,
            port=config.web_port,
            token=web_token(config, ctx.environ),
            insecure_no_auth=config.insecure_no_auth or ctx.insecure_no_auth,
            annotator=ctx.shared_annotator(),
            max_clients=config.max_clients,
        )
    return None


def describe(config: PreviewConfig) -> str | None:
    return f"preview {config.mode}" if config.mode != "none" else None
