"""The migrations build exactly the schema the models describe, on both databases: a model
change without its migration (or the reverse) fails here."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection

from referly.db.models import Base


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(app: FastAPI) -> None:
    async with app.state.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []
