"""The client's IP address, with `X-Forwarded-For` believed only from trusted proxies.

Each proxy appends the address it received the request from to `X-Forwarded-For`, so the list
reads client-to-server and only its right end is written by machines we trust. Walking it from
the right past our own proxies, the first address that is not one of them is the client; what
lies further left was sent by that client and may be forged. Without a trusted peer the header
is ignored entirely: anyone could send it."""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import HTTPConnection
from starlette.types import Scope

from referly.config import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def parse_ip(text: str) -> IPAddress | None:
    """An address as proxies write it: plain, `[v6]`, `[v6]:port` or `v4:port`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def _forwarded_hops(scope: Scope) -> list[str]:
    values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    return [hop for value in values for hop in value.split(",")]


def client_ip(source: Scope | HTTPConnection, settings: Settings) -> str:
    """The client's address as text; empty when the server was not told the peer."""
    scope = source.scope if isinstance(source, HTTPConnection) else source
    peer_text = scope["client"][0] if scope.get("client") else ""
    peer = parse_ip(peer_text)
    networks = trusted_networks(tuple(settings.trusted_proxies))
    if peer is None or not _is_trusted(peer, networks):
        return str(peer) if peer is not None else peer_text
    closest = peer
    for hop in reversed(_forwarded_hops(scope)):
        address = parse_ip(hop)
        if address is None:
            break  # a proxy we trust would not write this: stop at the last sound hop
        closest = address
        if not _is_trusted(address, networks):
            break
    return str(closest)
