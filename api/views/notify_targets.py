"""Where an outbound webhook may point: http(s) only, and in production never at a private,
loopback, link-local or otherwise internal address (server-side request forgery).

A subscription's URL is checked when it is created or changed: its host is resolved and every
address it resolves to must be public, unless the host or one of its addresses is on
``settings.notify.webhook_private_allow`` (a host name, an address, or a network in CIDR form).
In development (``environment = dev``) any http(s) URL is accepted: the embedded echo receiver
listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from api.errors import BadRequest
from wismo.payloads import is_web_url
from wismo.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2000
#: how long a look-up of the target's host may take before the URL is refused
RESOLVE_TIMEOUT_S = 3.0


def internal(address: IPAddress) -> bool:
    """Not a public unicast address: private, loopback, link-local, multicast, reserved, …"""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return internal(address.ipv4_mapped)
    return not address.is_global or address.is_multicast


def _allowed(host: str, addresses: Iterable[IPAddress], allow: Iterable[str]) -> bool:
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            names.add(entry.strip().lower().rstrip("."))
    if host.lower().rstrip(".") in names:
        return True
    found = list(addresses)
    return bool(found) and all(any(a in net for net in networks) for a in found)


_HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
#: the URLs a subscription may name (``openapi.yaml`` says the same pattern): http(s), an
#: optional user, a host name or IPv4 address (no IPv6 literal), a port from 1, printable
#: ASCII after (percent-encode the rest)
URL_PATTERN = (
    "^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=-]+(?::[A-Za-z0-9._~%!$&'()*+,;=-]*)?@)?"
    f"{_HOST_LABEL}(?:\\.{_HOST_LABEL})*(?::{_PORT})?(?:[/?#][!-~]*)?$"
)
_URL = re.compile(URL_PATTERN)


def url_shape(url: object) -> str:
    """The URL as given, if it is an http(s) URL with a host; else 400 with the reason."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise BadRequest(f"url must be text of at most {MAX_URL} characters")
    if not is_web_url(url) or not _URL.search(url):
        raise BadRequest(
            "url must be an http:// or https:// URL with a host name or IPv4 address, an "
            "optional port from 1 to 65535, and printable ASCII after (percent-encoded)"
        )
    url = url.strip()
    if not urlsplit(url).hostname:
        raise BadRequest("url names no host")
    return url


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as error:
        raise BadRequest(f"url's host {host} does not resolve: {error}") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_target(url: object, settings: Settings) -> str:
    """The URL, checked for shape and (in production) for an internal target; else 400."""
    url = url_shape(url)
    if settings.environment != "prod":
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    allow = settings.notify.webhook_private_allow
    if _allowed(host, (), allow):
        return url
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = await _resolve(host, port)
    if any(internal(a) for a in addresses) and not _allowed(host, addresses, allow):
        raise BadRequest(
            f"url's host {host} is a private, loopback or internal address; outbound webhooks "
            "go to public addresses only (settings notify.webhook_private_allow lists exceptions)"
        )
    return url
