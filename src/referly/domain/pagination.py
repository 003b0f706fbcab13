"""Page/limit pagination shared by every list."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

DEFAULT_LIMIT = 15
MAX_LIMIT = 250
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    limit: int
    total: int

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.limit))


def ordered(statement: Select[Any], column: Any, newest_first: bool) -> Select[Any]:
    """Every list's order: by creation (the row's id), newest first unless asked otherwise."""
    return statement.order_by(column.desc() if newest_first else column.asc())


async def paginate(
    session: AsyncSession, statement: Select[Any], page: int, limit: int
) -> Page[Any]:
    count = select(func.count()).select_from(statement.order_by(None).subquery())
    total = (await session.execute(count)).scalar_one()
    rows = await session.execute(statement.limit(limit).offset((page - 1) * limit))
    return Page(items=list(rows.scalars().all()), page=page, limit=limit, total=total)
