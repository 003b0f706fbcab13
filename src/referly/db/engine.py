"""Engine and session factory for the configured database URL."""

from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.pool import NullPool

from referly.config import Settings
from referly.db.raw import configure_sqlite

READ_ONLY = "referly_read_only"  # an execution option: begin a read-only transaction

# Errors that mean "the database cannot be reached or answer right now": the API renders them
# as 503 and the client may retry. Most arrive wrapped in `DBAPIError`; asyncpg's own errors can
# escape unwrapped when a connection dies while the pool resets or closes it.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DBAPIError,
    OSError,
    PoolTimeout,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def async_url(database_url: str) -> URL:
    """Map the plain URLs users write (`sqlite:///x.db`, `postgresql://...`) to the async
    drivers Referly runs on."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL scheme: {url.drivername!r}")


def create_engine(settings: Settings) -> AsyncEngine:
    url = async_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_folder(url)
        engine = create_async_engine(url, poolclass=NullPool if _is_memory(url) else None)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
    )


def create_sessionmaker(
    engine: AsyncEngine, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`; `read_only` ones take no write lock on SQLite (and must not
    write)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _check_sqlite_folder(url: URL) -> None:
    """SQLite creates the file but not its folder; say so plainly instead of failing later in
    a driver thread."""
    if _is_memory(url) or url.database is None:
        return
    folder = Path(url.database).expanduser().absolute().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"unable to open database file: no folder {folder}")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """The pragmas every SQLite connection of Referly's has (`referly.db.raw`), and IMMEDIATE
    transactions: SQLite has one writer, and a deferred transaction that reads first and writes
    later can fail at once with `database is locked` instead of waiting. Taking the write lock
    at BEGIN makes concurrent writers queue behind `busy_timeout` instead. Read-only sessions
    (`create_sessionmaker(..., read_only=True)`) begin deferred and take no lock: in WAL mode a
    reader never waits for the writer, nor makes it wait."""

    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        configure_sqlite(dbapi_connection)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
