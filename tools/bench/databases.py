"""A fresh database per benchmark run: a SQLite file in a temporary directory, or a dedicated
PostgreSQL database created for the run and dropped after it."""

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from referly.config import Settings
from referly.db.engine import async_url, create_engine, create_sessionmaker
from referly.db.migrate import upgrade_engine
from referly.domain import partners, programs, tokens
from referly.domain.partners import NewPartner
from referly.domain.programs import NewProgram
from tools.bench.paths import Fixture

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_PARTNER_KEY = "benchpartner"


@contextmanager
def bench_database(kind: str, workdir: Path, postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database of `kind`; dropped (PostgreSQL) when the block ends."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'referly-bench.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database {kind!r}: sqlite or postgresql")
    name = f"referly_bench_{os.getpid()}"
    asyncio.run(_admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _admin(postgres_url: str, statement: str) -> None:
    engine = create_async_engine(async_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def prepare(database_url: str) -> Fixture:
    """Bring the schema up to date and create the bench program, its token and a partner,
    through the same services the API uses."""
    return asyncio.run(_prepare(database_url))


async def _prepare(database_url: str) -> Fixture:
    engine = create_engine(Settings(database_url=database_url))
    try:
        await upgrade_engine(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            program = await programs.create_program(session, NewProgram(name="Bench program"))
            issued = await tokens.create_token(session, program, "bench")
            await partners.create_partner(
                session, program, NewPartner(email="partner@bench.example", key=BENCH_PARTNER_KEY)
            )
        return Fixture(program.public_id, BENCH_PARTNER_KEY, issued.token)
    finally:
        await engine.dispose()


def count_rows(database_url: str, table_name: str) -> int:
    return asyncio.run(_count_rows(database_url, table_name))


async def _count_rows(database_url: str, table_name: str) -> int:
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(select(func.count()).select_from(table(table_name)))
            return int(found or 0)
    finally:
        await engine.dispose()
