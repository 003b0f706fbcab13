"""Partner portal passwords: Partnero's strength rule, stored with scrypt."""

import base64
import hashlib
import hmac
import re
import secrets

PASSWORD_RULE = (
    "The password must be at least 8 characters and contain at least 1 lowercase, "
    "1 uppercase, and 1 number."
)


def is_strong_password(password: str) -> bool:
    return (
        len(password) >= 8
        and re.search(r"[a-z]", password) is not None
        and re.search(r"[A-Z]", password) is not None
        and re.search(r"[0-9]", password) is not None
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt + digest).decode()


def verify_password(password: str, stored: str) -> bool:
    raw = base64.b64decode(stored.removeprefix("scrypt$"))
    salt, digest = raw[:16], raw[16:]
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate, digest)
