"""Idempotency keys: storage of a POST's key, the request it came with and the answer it got.

A key is reserved, the request's work done and the answer written in ONE transaction, so the
key becomes visible to others exactly when the request's effects are committed, and always
with its answer: never before, never without them, never without the answer. The HTTP rules
around this live in `referly.api.idempotency`."""

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import IdempotencyKey
from referly.db.types import utcnow

KEY_LIFETIME = timedelta(hours=24)


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What "the same request" means: same method, path, query string and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def find_live(
    session: AsyncSession, program_id: int, key: str, now: datetime | None = None
) -> IdempotencyKey | None:
    """The program's unexpired row for `key`. Expired rows of the program go on the way."""
    cutoff = (now or utcnow()) - KEY_LIFETIME
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.program_id == program_id, IdempotencyKey.created_at <= cutoff
        )
    )
    return await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.program_id == program_id, IdempotencyKey.key == key
        )
    )


async def reserve(session: AsyncSession, program_id: int, key: str, print_: str) -> int | None:
    """Take `key` for this request: the new row's id, or None when another request holds the
    key already. On PostgreSQL a concurrent holder makes this wait until it commits or rolls
    back."""
    row = IdempotencyKey(program_id=program_id, key=key, fingerprint=print_)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row.id


def _reserved(reserved_id: int, program_id: int, key: str) -> ColumnElement[bool]:
    return and_(
        IdempotencyKey.id == reserved_id,
        IdempotencyKey.program_id == program_id,
        IdempotencyKey.key == key,
        IdempotencyKey.response_status.is_(None),
    )


class ReservationLost(Exception):
    """The reserved row was not there to take the answer: the transaction must not commit."""


async def record(
    session: AsyncSession, reserved_id: int, program_id: int, key: str, answer: tuple[int, str]
) -> None:
    """Store the answer (status, body) on the row reserved earlier in the same transaction."""
    status, body = answer
    updated = await session.execute(
        update(IdempotencyKey)
        .where(_reserved(reserved_id, program_id, key))
        .values(response_status=status, response_body=body)
    )
    if getattr(updated, "rowcount", 0) != 1:
        raise ReservationLost(key)
