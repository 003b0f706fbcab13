"""The referral cookie's rules, as pure functions. No I/O here.

The browser script (`static/universal.js`) applies these in the visitor's browser; the
functions below are their reference, tested directly and against the script in Chromium, and
`script_settings` is what the script is told about a program."""

import re
from typing import Any

from referly.db.models import Program
from referly.domain.attribution import FIRST_CLICK

COOKIE_NAME = {"affiliate": "partnero_partner", "referral": "partnero_referral"}
COOKIE_DOMAIN_AUTO = "auto"
COOKIE_DOMAIN_HOST = "host"
# Browsers cap a cookie's lifetime at 400 days; a longer setting would silently not hold.
MAX_COOKIE_DAYS = 400
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def cookie_key_after_landing(current: str | None, landing: str, rule: str) -> str:
    """The key the cookie holds after a visitor lands with `landing`: last click takes the
    new key; first click keeps a key the visitor already has."""
    if rule == FIRST_CLICK and current:
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
        "f": program.attribution == FIRST_CLICK,
    }
