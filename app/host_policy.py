"""Who may reach the service: bind-address exposure, the Host header, cross-site writes (pure functions).

Without API keys every caller is the one open tenant, so an open service must be reachable only from
this machine: ``synthrag serve`` refuses a non-loopback bind address unless ``SYNTHRAG_OPEN_ACCESS`` says
so, the Host header must name this machine (a DNS-rebinding page names its own domain), and a browser
write from another origin (a multipart POST needs no CORS preflight) is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from kernel.errors import ConfigError
from kernel.settings import ENV_PREFIX, Settings

#: Host names that always mean this machine.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Methods a browser may send cross-site without a preflight, or that change state.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    """True for a loopback bind address or name (``127.0.0.1``, ``::1``, ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse to serve an open service (no API keys) on an address other hosts can reach.

    Raises:
        ConfigError: ``host`` is not loopback, no keys are set and open access was not asked for.
    """
    if settings.api_keys or settings.open_access or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve on {host} without API keys: anyone who reaches it would read and delete every "
        f"document. Set {ENV_PREFIX}API_KEYS, or bind 127.0.0.1, or set {ENV_PREFIX}OPEN_ACCESS=true if open "
        "access behind your own firewall is intended"
    )


def host_name(header: str) -> str:
    """The name in a Host header, lower-case, without port or IPv6 brackets (``""`` when unreadable)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    name, _, _port = value.partition(":")
    return name


def host_allowed(header: str, settings: Settings) -> bool:
    """Whether the service answers a request whose Host header is ``header``.

    ``SYNTHRAG_ALLOWED_HOSTS`` when set (``*`` = any); otherwise any host with API keys (a request
    without a key gets nothing) and only loopback names without them.
    """
    name = host_name(header)
    allowed = [h.strip().lower() for h in settings.allowed_hosts if h.strip()]
    if allowed:
        return "*" in allowed or name in allowed or is_loopback(name)
    if settings.api_keys:
        return True
    return bool(name) and is_loopback(name)


def cross_site_write(method: str, headers: Mapping[str, str]) -> str | None:
    """Why a write is a browser's cross-site request (None when it is not one).

    A browser names the page's origin in ``Origin`` (and, when it supports fetch metadata, says
    ``Sec-Fetch-Site: cross-site``); other clients (curl, SDKs) send neither and pass.
    """
    if method.upper() not in WRITE_METHODS:
        return None
    site = headers.get("sec-fetch-site", "").lower()
    if site == "cross-site":
        return "the browser marked it cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin == "null":
        return "it comes from an opaque origin"
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "its Origin header is not a web origin"
    if parts.netloc.lower() != headers.get("host", "").strip().lower():
        return "it comes from another origin"
    return None
