"""Which sites may report to a program through the public endpoints: origins as browsers send
them in `Origin`, and the program's allowed list. Pure, no I/O."""

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

ORIGIN = re.compile(r"^(https?)://(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize_origin(value: str) -> str:
    """An origin as browsers send it in `Origin`: `scheme://host[:port]`, lower-case, no
    default port, no path. `https://*.example.com` allows every subdomain of example.com.
    ValueError when it is not one."""
    text = value.strip().lower().rstrip("/")
    match = ORIGIN.match(text)
    if match is None:
        raise ValueError(f"Not an origin (https://host[:port]): {value.strip()!r}")
    scheme, wildcard, host, port = match.groups()
    port_part = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{wildcard or ''}{host}{port_part}"


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """Whether a request from `origin` may report. No list allows every origin; a request
    without an `Origin` header (not sent by a browser script) is not refused by it."""
    if not allowed or origin is None:
        return True
    origin = origin.lower()
    return any(origin == entry or _wildcard_match(origin, entry) for entry in allowed)


def _wildcard_match(origin: str, entry: str) -> bool:
    if "://*." not in entry:
        return False
    scheme, _, rest = entry.partition("://*.")
    parts = urlsplit(origin)
    suffix_host, _, port = rest.partition(":")
    origin_port = "" if parts.port is None else str(parts.port)
    return (
        parts.scheme == scheme
        and (parts.hostname or "").endswith("." + suffix_host)
        and origin_port == port
    )
