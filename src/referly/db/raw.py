"""What the raw-driver connections share (the group-commit writer's and the fast reader's):
which database a URL names, how a SQLite connection is set up, and how a value becomes a
driver parameter. They run beside SQLAlchemy's pool, on the same database, with the same
settings."""

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeEngine

from referly.db.types import UTCDateTime

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_DIALECT: Dialect = SQLiteDialect_pysqlite()
POSTGRES_DIALECT: Dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


def sqlite_path(database_url: str) -> str | None:
    """The file of a SQLite URL; None for another database or an in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def postgres_dsn(database_url: str) -> str | None:
    """The asyncpg DSN of a PostgreSQL URL; None for another database."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_pragmas(busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> tuple[str, ...]:
    """WAL, enforced foreign keys, and FULL sync: a commit is on disk before it returns, so a
    2xx survives a power cut, not only a crash of the process (WAL with NORMAL would lose the
    last commits then)."""
    return (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        f"busy_timeout={busy_timeout_ms}",
    )


def configure_sqlite(connection: sqlite3.Connection, *pragmas: str) -> None:
    cursor = connection.cursor()
    for pragma in pragmas or sqlite_pragmas():
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # SQLite's own lower() folds ASCII letters only ("Élodie" stays "Élodie"); PostgreSQL's
    # folds every letter. The same fold on both, so a search finds the same rows.
    connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    return value.lower() if isinstance(value, str) else value


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The type's bind processor for the dialect; for `UTCDateTime` on SQLite, an equal one
    that formats the text in one step (the column's own chain is most of a row's cost)."""
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return sqlite_utc_text
    processor: Callable[[Any], Any] | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What `UTCDateTime` stores on SQLite: naive UTC as `YYYY-MM-DD HH:MM:SS.ffffff`."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the offset, +00:00
