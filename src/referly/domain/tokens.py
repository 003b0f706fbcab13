"""API tokens: one program each, shown once, stored as a SHA-256 hash with a readable prefix.

A token looks like `rfl_<prefix>_<secret>`; the prefix finds the row, the hash is compared in
constant time."""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import ApiToken, Program
from referly.db.reads import Reader
from referly.db.types import utcnow
from referly.domain.pagination import ordered
from referly.errors import NotFound, Unauthorized

TOKEN_SCHEME = "rfl"
PREFIX_BYTES = 4  # 8 hex characters


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the secret exists outside the client
    row: ApiToken


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_prefix(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or len(parts[1]) != PREFIX_BYTES * 2:
        return None
    return parts[1]


async def create_token(session: AsyncSession, program: Program, name: str | None) -> IssuedToken:
    prefix = secrets.token_hex(PREFIX_BYTES)
    token = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(program_id=program.id, prefix=prefix, token_hash=hash_token(token), name=name)
    session.add(row)
    await session.flush()
    return IssuedToken(token=token, row=row)


async def list_tokens(
    session: AsyncSession, program: Program, newest_first: bool = True
) -> Sequence[ApiToken]:
    statement = select(ApiToken).where(ApiToken.program_id == program.id)
    return (await session.scalars(ordered(statement, ApiToken.id, newest_first))).all()


async def revoke_token(session: AsyncSession, token_or_prefix: str) -> ApiToken:
    prefix = split_prefix(token_or_prefix) or token_or_prefix
    row = await session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound(f"Token {prefix} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


_PROGRAM_COLUMNS = tuple(Program.__table__.columns)
# A token's row, by its prefix, and its program.
TOKEN_BY_PREFIX = (
    select(ApiToken.token_hash, ApiToken.revoked_at, *_PROGRAM_COLUMNS)
    .join(Program, Program.id == ApiToken.program_id)
    .where(ApiToken.prefix == bindparam("prefix", type_=String))
)


async def authenticate(reads: Reader, token: str) -> Program:
    """The program a bearer token belongs to; Unauthorized for anything else. The same work is
    done whether the prefix exists or not, and the hash is compared in constant time."""
    prefix = split_prefix(token)
    if prefix is None:
        raise Unauthorized()
    found = await reads.one(TOKEN_BY_PREFIX, {"prefix": prefix})
    given = hash_token(token)
    stored = found[0] if found is not None else given
    if not hmac.compare_digest(stored, given) or found is None or found[1] is not None:
        raise Unauthorized()
    return Program(
        **{column.key: value for column, value in zip(_PROGRAM_COLUMNS, found[2:], strict=True)}
    )
