"""Pure rules for identifiers: referral keys, generated ids, and finding a referral key in a
landing or referral URL. No I/O here."""

import re
import secrets
import string
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

REFERRAL_KEY_MAX = 64
REFERRAL_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROGRAM_ID_ALPHABET = string.ascii_uppercase + string.digits
GENERATED_ALPHABET = string.ascii_lowercase + string.digits


def is_valid_referral_key(key: str) -> bool:
    return bool(REFERRAL_KEY_PATTERN.fullmatch(key))


def normalize_key(key: str) -> str:
    """Referral keys compare case-insensitively."""
    return key.lower()


def normalize_email(email: str) -> str:
    """How emails compare: one Unicode form (NFC: `é` typed as one letter or as `e` and an
    accent is the same address) and no case."""
    return unicodedata.normalize("NFC", email.strip()).lower()


def new_program_public_id() -> str:
    return "".join(secrets.choice(PROGRAM_ID_ALPHABET) for _ in range(8))


def new_generated_key(length: int = 12) -> str:
    return "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))


def referral_key_from_url(url: str, params: Sequence[str]) -> str | None:
    """The referral key a URL carries: the first of `params` in its query string, else the
    path form `/<param>/<key>` (e.g. `/aff/KEY`). None when there is none or it is malformed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    for param in params:
        value = query.get(param)
        if value and is_valid_referral_key(value):
            return value
    segments = [s for s in parts.path.split("/") if s]
    for index, segment in enumerate(segments[:-1]):
        if segment in params and is_valid_referral_key(segments[index + 1]):
            return segments[index + 1]
    return None
