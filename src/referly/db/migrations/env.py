"""Alembic environment. Referly calls migrations with an open connection
(`referly.db.migrate`); the `alembic` command line (for writing new revisions) gets one from
`REFERLY_DATABASE_URL`."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from referly.config import Settings
from referly.db.engine import create_engine
from referly.db.models import Base

target_metadata = Base.metadata


def run_with_connection(connection: Connection) -> None:
    # Told of each migration as it is applied (`referly.db.migrate.upgrade_engine`).
    on_version_apply = context.config.attributes.get("on_version_apply")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=on_version_apply,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    engine = create_engine(Settings())
    async with engine.begin() as connection:
        await connection.run_sync(run_with_connection)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with_connection(connection)
else:
    asyncio.run(run_from_settings())
