"""Who a request comes from, for per-client limits: the peer address, or — only when the peer is
one of the reverse proxies configured in ``settings.api.trusted_proxies`` — the nearest address
in ``X-Forwarded-For`` that is not itself a trusted proxy.

``X-Forwarded-For`` from anyone else is ignored: a client could otherwise name a new address on
every request and never be limited. Proxies append the address they saw, so the list is read
from the right and the first untrusted entry is the client as the outermost trusted proxy saw it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ClientAddresses:
    """The trusted proxy networks, parsed once."""

    proxies: tuple[Network, ...] = ()

    @classmethod
    def of(cls, networks: Iterable[str]) -> ClientAddresses:
        return cls(tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks))

    def _trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in self.proxies)

    def client(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client's address as text (``unknown`` when there is none)."""
        if not peer:
            return UNKNOWN
        if not self.proxies or not self._trusted(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer  # a garbled list: the proxy itself is all that is known
            if not self._trusted(hop):
                return str(address)
        return peer

    def of_request(self, request: web.Request) -> str:
        return self.client(request.remote, request.headers.getall("X-Forwarded-For", []))


CLIENTS = web.AppKey("client_addresses", ClientAddresses)


def client_of(request: web.Request) -> str:
    """The client address of ``request`` under the application's trusted proxies."""
    return request.app[CLIENTS].of_request(request)
