"""The migrations build exactly the schema the models describe, on both databases: a model
change without its migration (or the reverse) fails here. Runs on a database of its own, so
tables other tests make for themselves do not count."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from referly.config import Settings
from referly.db.engine import create_engine
from referly.db.migrate import upgrade_engine
from referly.db.models import Base
from tests.conftest import _admin


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


@pytest.fixture
async def fresh_settings(
    backend: str, settings: Settings, tmp_path: Path
) -> AsyncIterator[Settings]:
    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
        return
    name = f"referly_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(f"CREATE DATABASE {name}")
    try:
        url = make_url(settings.database_url).set(database=name)
        yield Settings(database_url=url.render_as_string(hide_password=False))
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_the_migrated_schema_matches_the_models(fresh_settings: Settings) -> None:
    engine = create_engine(fresh_settings)
    try:
        await upgrade_engine(engine)
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert found == []
