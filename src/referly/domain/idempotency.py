"""Idempotency keys: storage of a POST's key, the request it came with and the answer it got.

A key is reserved inside the request's own transaction, so it becomes visible to others
exactly when the request's effects are committed, never before and never without them. The
answer is written once it is known. The HTTP rules around this live in
`referly.api.idempotency`."""

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


async def record(
    session: AsyncSession,
    reserved_id: int | None,
    program_id: int,
    key: str,
    print_: str,
    answer: tuple[int, str],
) -> None:
    """Store the answer (status, body): on the reserved row if its request committed, else as
    a new row (the request was refused and rolled back; a retry must get the same refusal)."""
    status, body = answer
    if reserved_id is not None:
        updated = await session.execute(
            update(IdempotencyKey)
            .where(_reserved(reserved_id, program_id, key))
            .values(response_status=status, response_body=body)
        )
        if getattr(updated, "rowcount", 0):
            return
    row = IdempotencyKey(
        program_id=program_id,
        key=key,
        fingerprint=print_,
        response_status=status,
        response_body=body,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass  # another request took the key meanwhile; its answer stands


async def release(session: AsyncSession, reserved_id: int, program_id: int, key: str) -> None:
    """Free a key whose request failed on our side, so that a retry runs again."""
    await session.execute(delete(IdempotencyKey).where(_reserved(reserved_id, program_id, key)))
