"""Who may use the HTTP server: the access token and the ``Host`` rule.

Listening beyond loopback needs a token (config file or
``CAMERA_APP_WEB_TOKEN``, never the command line) unless
``insecure_no_auth``. With a token, every route but ``/healthz`` needs
``Authorization: Bearer <token>`` or ``?token=<token>`` (the preview page
passes its own on). Without a token on loopback, only loopback names are
accepted in ``Host``, so a web page elsewhere cannot read the server through
DNS rebinding.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from camera_app.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_ENV = "CAMERA_APP_WEB_TOKEN"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (brackets allowed)."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The token and ``Host`` rules of one server."""

    host: str
    """The address the server listens on."""
    token: str | None = None

    @classmethod
    def checked(
        cls, host: str, token: str | None, insecure_no_auth: bool, origin: str = "--http"
    ) -> AccessPolicy:
        """The policy, or ``ConfigError`` for a non-loopback address without a
        token (``origin`` names the flag that chose the address)."""
        token = token or None
        if not is_loopback(host) and token is None:
            if not insecure_no_auth:
                raise ConfigError(
                    f"{origin} {host} needs an access token: set [preview] token (or [http] "
                    f"token) in the config file, or {TOKEN_ENV}; or pass --insecure-no-auth"
                )
            log.warning("HTTP server on %s without an access token", host)
        return cls(host, token)

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token on loopback, only loopback names in ``Host``."""
        if self.token or not is_loopback(self.host) or not host_header:
            return True
        return is_loopback(urlsplit("//" + host_header).hostname or "")

    def authorized(self, header: str | None, query_token: str | None) -> bool:
        """``Authorization: Bearer <token>`` or ``?token=<token>`` (constant time)."""
        if not self.token:
            return True
        expected = self.token.encode()
        if header and header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), expected)
        return query_token is not None and hmac.compare_digest(query_token.encode(), expected)
