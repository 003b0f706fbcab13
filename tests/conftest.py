"""Test harness. Every API test runs on real SQLite and real PostgreSQL.

Tests never clean up: each builds its own programs, and every record belongs to one program,
so tests cannot see each other's data. PostgreSQL missing is a skip locally and a failure in
CI (`CI=true`)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from referly.app import create_app
from referly.config import Settings
from referly.db.engine import async_url
from referly.db.migrate import upgrade_engine
from tests.builders import Cast, make_cast
from tests.live import LiveServer, start_live_server

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "REFERLY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


async def _admin(statement: str) -> None:
    engine = create_async_engine(async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.only_backend("postgresql")`: the test is not collected for the other
    database (rather than collected and skipped)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("only_backend")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        if marker is not None and backend is not None and backend not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so parallel runs never share a schema."""
    name = f"referly_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_admin(f"CREATE DATABASE {name}"))
    except Exception as error:  # any failure to connect means "not available"
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__}: {error})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    # httpx's in-process client calls the server `testserver`: links name it.
    hosts = ["testserver", "localhost", "127.0.0.1"]
    if backend == "postgresql":
        return Settings(database_url=request.getfixturevalue("postgres_url"), allowed_hosts=hosts)
    sqlite_file = tmp_path_factory.mktemp("db") / "referly-test.db"
    return Settings(database_url=f"sqlite:///{sqlite_file}", allowed_hosts=hosts)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    await upgrade_engine(application.state.engine)
    yield application
    await application.state.writer.close()
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def cast(app: FastAPI, client: httpx.AsyncClient) -> Cast:
    """Alice's program and Bob's program, each with a token and an API client."""
    return await make_cast(app, client)


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """`referly serve` as a user runs it, on a free loopback port, on this backend's database."""
    log_dir: Path = tmp_path_factory.mktemp("live")
    server = start_live_server(settings.database_url, log_dir)
    yield server
    server.stop()
