"""API tokens: one program each, shown once, stored as a SHA-256 hash with a readable prefix.

A token looks like `rfl_<prefix>_<secret>`; the prefix finds the row, the hash is compared in
constant time."""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import ApiToken, Program
from referly.db.types import utcnow
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


async def list_tokens(session: AsyncSession, program: Program) -> Sequence[ApiToken]:
    statement = select(ApiToken).where(ApiToken.program_id == program.id).order_by(ApiToken.id)
    return (await session.scalars(statement)).all()


async def revoke_token(session: AsyncSession, token_or_prefix: str) -> ApiToken:
    prefix = split_prefix(token_or_prefix) or token_or_prefix
    row = await session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound(f"Token {prefix} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


async def authenticate(session: AsyncSession, token: str) -> Program:
    """The program a bearer token belongs to; Unauthorized for anything else."""
    prefix = split_prefix(token)
    if prefix is None:
        raise Unauthorized()
    statement = (
        select(ApiToken, Program)
        .join(Program, Program.id == ApiToken.program_id)
        .where(ApiToken.prefix == prefix)
    )
    found = (await session.execute(statement)).first()
    if found is None:
        hmac.compare_digest(hash_token(token), hash_token(token))  # same work either way
        raise Unauthorized()
    row, program = found
    if not hmac.compare_digest(row.token_hash, hash_token(token)) or row.revoked_at is not None:
        raise Unauthorized()
    return program
