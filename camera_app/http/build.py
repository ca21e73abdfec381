"""The run's one HTTP server, from ``[http]`` and the web preview's address.

``[http] listen`` (``--http``) wins: the server runs there, with or without
the preview, which then joins it. Without it, the server runs only for
``--preview web``, on ``[preview] web_host``/``web_port`` as before. The
token: ``CAMERA_APP_WEB_TOKEN`` wins over ``[http] token``, then
``[preview] token``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from camera_app.http.auth import TOKEN_ENV
from camera_app.http.config import HttpConfig, parse_listen
from camera_app.http.server import HttpServer
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)


def build_server(
    config: HttpConfig,
    stats: PipelineStats,
    environ: Mapping[str, str],
    *,
    preview_address: tuple[str, int] | None = None,
    preview_token: str | None = None,
    insecure_no_auth: bool = False,
) -> HttpServer | None:
    """Bound now (a busy port fails here), not started; None when nothing
    asks for a server. ``preview_address`` is given when the web preview is on."""
    if config.listen is not None:
        (host, port), origin = parse_listen(config.listen), "--http"
        if preview_address is not None and preview_address != (host, port):
            log.info("web preview served on [http] listen %s, not on [preview]", config.listen)
    elif preview_address is not None:
        (host, port), origin = preview_address, "--web-host"
    else:
        return None
    token = environ.get(TOKEN_ENV) or config.token or preview_token or None
    return HttpServer(
        host,
        port,
        token=token,
        insecure_no_auth=config.insecure_no_auth or insecure_no_auth,
        stats=stats,
        limits=config.limits(),
        stale_after_s=config.stale_after_s,
        origin=origin,
    )
