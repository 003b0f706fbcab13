"""Pure rules of the browser path: which key the cookie keeps, which partner a sign-up
credits, which domain the cookie lives on, which sites may report, and what the script is
told. No I/O here.

The browser script (`static/universal.js`) applies the cookie rules in the visitor's
browser; the functions below are their reference, tested directly, and the server applies
the rest (origins, settings)."""

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from referly.db.models import Program

ATTRIBUTION_RULES = ("last_click", "first_click")
COOKIE_NAME = {"affiliate": "partnero_partner", "referral": "partnero_referral"}
COOKIE_DOMAIN_AUTO = "auto"
COOKIE_DOMAIN_HOST = "host"
# Browsers cap a cookie's lifetime at 400 days; a longer setting would silently not hold.
MAX_COOKIE_DAYS = 400
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ORIGIN = re.compile(r"^(https?)://(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def cookie_key_after_landing(current: str | None, landing: str, rule: str) -> str:
    """The key the cookie holds after a visitor lands with `landing`: last click takes the
    new key; first click keeps a key the visitor already has."""
    if rule == "first_click" and current:
        return current
    return landing


def signup_partner_key(explicit: str | None, cookie: str | None, landing: str | None) -> str | None:
    """The key a sign-up credits: `data.partner.key`, else the cookie, else the landing URL.
    None means no referral, and then the script reports nothing."""
    return explicit or cookie or landing or None


def cookie_domain_candidates(hostname: str, mode: str) -> list[str]:
    """The cookie domains to try, in order; the first the browser accepts wins, and `""`
    (host-only, always accepted) ends every list. For `auto` that is the shortest parent first:
    browsers refuse public suffixes (`co.uk`), so the first accepted is the registrable root
    (`example.co.uk`), shared by every subdomain. Parents of an IP address are refused too."""
    if mode == COOKIE_DOMAIN_HOST:
        return [""]
    if mode != COOKIE_DOMAIN_AUTO:
        return [mode, ""]
    labels = hostname.lower().split(".")
    return [".".join(labels[start:]) for start in range(len(labels) - 2, -1, -1)] + [""]


def normalize_cookie_domain(value: str) -> str:
    """`auto`, `host`, or a domain name (a leading dot is dropped). ValueError otherwise."""
    text = value.strip().lower().removeprefix(".")
    if text in (COOKIE_DOMAIN_AUTO, COOKIE_DOMAIN_HOST):
        return text
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(DOMAIN_LABEL.match(x) for x in labels):
        raise ValueError("The cookie domain must be auto, host, or a domain like example.com.")
    return text


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


def script_settings(program: Program) -> dict[str, Any]:
    """What `GET /t/{id}/settings` serves. Readable fields for people; the one-letter keys
    are what the script reads (every byte of it ships to every visitor)."""
    cookie = COOKIE_NAME[program.type]
    mode = program.cookie_domain
    return {
        "id": program.public_id,
        "type": program.type,
        "url_params": list(program.url_params),
        "cookie_name": cookie,
        "cookie_lifetime_days": program.cookie_lifetime_days,
        "cookie_domain": mode,
        "attribution": program.attribution,
        "p": list(program.url_params),
        "c": cookie,
        "n": program.cookie_lifetime_days,
        "m": "" if mode == COOKIE_DOMAIN_HOST else mode,
        "f": program.attribution == "first_click",
    }
