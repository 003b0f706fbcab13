"""Where the domain's inserts go: the process's group-commit writer (`GroupCommitWriter`, shared
commits for the hot paths) or the caller's ORM session (`SessionWriter`, inside a transaction
that holds other work too, such as an idempotency key's answer). Both insert with
`ON CONFLICT DO NOTHING`, so a row whose unique value exists comes back as a duplicate, never
as an error."""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import FromClause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from referly.db.group_commit import Follow, InsertResult, table_of


class RowWriter(Protocol):
    async def insert(
        self,
        target: FromClause | type[DeclarativeBase],
        values: Mapping[str, Any],
        follow: Sequence[Follow] = (),
    ) -> InsertResult:
        """Insert one row, and the rows that `follow` it if it went in, in one transaction; a
        duplicate of a unique value inserts nothing."""
        ...

    async def barrier(self) -> None:
        """Wait as long as an insert would, writing nothing."""
        ...


class SessionWriter:
    """A `RowWriter` on an ORM session: the row is flushed in the session's transaction and
    committed with it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(
        self,
        target: FromClause | type[DeclarativeBase],
        values: Mapping[str, Any],
        follow: Sequence[Follow] = (),
    ) -> InsertResult:
        inserted = await self._insert(target, values)
        if inserted is not None:
            for row in follow:
                linked = {row.link: inserted} if row.link is not None else {}
                await self._insert(row.target, {**row.values, **linked})
        return InsertResult(inserted)

    async def _insert(
        self, target: FromClause | type[DeclarativeBase], values: Mapping[str, Any]
    ) -> int | None:
        table = table_of(target)
        build = postgresql.insert if self._dialect() == "postgresql" else sqlite.insert
        (key,) = table.primary_key.columns
        statement = build(table).values(dict(values)).on_conflict_do_nothing().returning(key)
        inserted: int | None = await self.session.scalar(statement)
        return inserted

    async def barrier(self) -> None:
        return None  # the caller's commit comes later, for every outcome alike

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name
