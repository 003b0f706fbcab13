"""Referral link URLs (pure)."""

from urllib.parse import urlencode

from referly.db.models import Program


def link_url(program: Program, key: str) -> str:
    """The shareable URL for a referral key: the program's website with its first URL
    parameter, or just the query (`?aff=KEY`) when the program has no website set."""
    query = urlencode({program.url_params[0]: key})
    website = program.website or ""
    separator = "&" if "?" in website else "?"
    return f"{website}{separator}{query}"
