"""Pre-load a grown program — a few thousand partners, a million clicks, a hundred thousand
customers — in bulk, so the benchmark shows whether the hot paths stay fast as tables grow.

Rows go in through the raw drivers (sqlite3 `executemany`, asyncpg `COPY`) in one transaction
per table, which takes seconds instead of the hours the API would."""

import asyncio
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Growth:
    partners: int = 3_000
    clicks: int = 1_000_000
    customers: int = 100_000


PARTNER_COLUMNS = (
    "program_id", "public_id", "key", "key_ci", "email", "email_ci",
    "name", "status", "tags", "created_at", "updated_at",
)  # fmt: skip
LINK_COLUMNS = ("program_id", "partner_id", "key", "key_ci", "is_default", "created_at")
CLICK_COLUMNS = (
    "program_id", "partner_id", "referral_link_id", "landing_url", "referrer",
    "visitor_id", "created_at",
)  # fmt: skip
CUSTOMER_COLUMNS = (
    "program_id", "key", "email", "email_ci", "name", "tags", "partner_id",
    "referral_link_id", "source", "status", "created_at", "updated_at",
)  # fmt: skip


def _partners(program_id: int, count: int, now: datetime) -> Iterator[Row]:
    for i in range(count):
        key, email = f"gp{i:06d}", f"grown-partner-{i}@bench.example"
        yield (program_id, key, key, key, email, email, "Grown", "active", "[]", now, now)


def _links(program_id: int, partners: list[tuple[int, str]], now: datetime) -> Iterator[Row]:
    for partner_id, key in partners:
        yield (program_id, partner_id, key, key.lower(), True, now)


def _link_of(links: list[tuple[int, int, str]], i: int) -> tuple[int, int, str]:
    """Every tenth row goes to the bench partner (the first link): a busy partner's own rows
    are what its lookups scan."""
    return links[0] if i % 10 == 0 else links[i % len(links)]


def _clicks(program_id: int, links: list[tuple[int, int, str]], count: int) -> Iterator[Row]:
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / count
    for i in range(count):
        partner_id, link_id, key = _link_of(links, i)
        url = f"https://shop.example/pricing?aff={key}"
        yield (program_id, partner_id, link_id, url, None, f"v{i}", start + step * i)


def _customers(program_id: int, links: list[tuple[int, int, str]], count: int) -> Iterator[Row]:
    """Without timestamps: `_stamped` adds created_at and updated_at."""
    for i in range(count):
        partner_id, link_id, _key = _link_of(links, i)
        key, email = f"grown-{i}", f"grown-{i}@customer.example"
        yield (program_id, key, email, email, "Grown", "[]", partner_id, link_id, "api", "active")


def preload(database_url: str, public_id: str, growth: Growth) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _preload_sqlite(str(url.database), public_id, growth)
    else:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        asyncio.run(_preload_postgres(dsn, public_id, growth))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _sqlite_rows(rows: Iterable[Row]) -> Iterator[Row]:
    return (tuple(_sqlite_value(value) for value in row) for row in rows)


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _preload_sqlite(path: str, public_id: str, growth: Growth) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN")
        (program_id,) = connection.execute(
            "SELECT id FROM programs WHERE public_id = ?", (public_id,)
        ).fetchone()
        now = datetime.now(UTC)
        rows = _sqlite_rows(_partners(program_id, growth.partners, now))
        connection.executemany(_insert_sql("partners", PARTNER_COLUMNS), rows)
        partners = connection.execute(
            "SELECT id, key FROM partners WHERE program_id = ?", (program_id,)
        ).fetchall()
        rows = _sqlite_rows(_links(program_id, [p for p in partners if p[1].startswith("gp")], now))
        connection.executemany(_insert_sql("referral_links", LINK_COLUMNS), rows)
        links = connection.execute(
            "SELECT partner_id, id, key FROM referral_links WHERE program_id = ? ORDER BY id",
            (program_id,),
        ).fetchall()
        rows = _sqlite_rows(_clicks(program_id, links, growth.clicks))
        connection.executemany(_insert_sql("clicks", CLICK_COLUMNS), rows)
        rows = _sqlite_rows(_stamped(_customers(program_id, links, growth.customers), now))
        connection.executemany(_insert_sql("customers", CUSTOMER_COLUMNS), rows)
        connection.execute("COMMIT")
    finally:
        connection.close()


def _stamped(rows: Iterable[Row], now: datetime) -> Iterator[Row]:
    return ((*row, now, now) for row in rows)


async def _preload_postgres(dsn: str, public_id: str, growth: Growth) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            program_id = await connection.fetchval(
                "SELECT id FROM programs WHERE public_id = $1", public_id
            )
            now = datetime.now(UTC)
            await _copy(
                connection, "partners", PARTNER_COLUMNS, _partners(program_id, growth.partners, now)
            )
            partners = await connection.fetch(
                "SELECT id, key FROM partners WHERE program_id = $1 AND key LIKE 'gp%'", program_id
            )
            pairs = [(p["id"], p["key"]) for p in partners]
            await _copy(connection, "referral_links", LINK_COLUMNS, _links(program_id, pairs, now))
            found = await connection.fetch(
                "SELECT partner_id, id, key FROM referral_links WHERE program_id = $1 ORDER BY id",
                program_id,
            )
            links = [(r["partner_id"], r["id"], r["key"]) for r in found]
            await _copy(
                connection, "clicks", CLICK_COLUMNS, _clicks(program_id, links, growth.clicks)
            )
            customers = _stamped(_customers(program_id, links, growth.customers), now)
            await _copy(connection, "customers", CUSTOMER_COLUMNS, customers)
        await connection.execute("ANALYZE")  # what autovacuum would do shortly after a load
    finally:
        await connection.close()


async def _copy(
    connection: asyncpg.Connection, table: str, columns: tuple[str, ...], rows: Iterable[Row]
) -> None:
    await connection.copy_records_to_table(table, records=rows, columns=list(columns))
