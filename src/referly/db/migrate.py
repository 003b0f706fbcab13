"""Bring a database's schema up to date by running the Alembic migrations."""

import asyncio
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from referly.config import Settings
from referly.db.engine import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


class Steps(Protocol):
    """Told how many migrations will run, then of each one as it is done (a progress bar)."""

    def start(self, total: int) -> None: ...

    def done(self, revision: str) -> None: ...


def pending(connection: Connection) -> list[str]:
    """The revisions an upgrade to head would apply, oldest first."""
    current = MigrationContext.configure(connection).get_current_heads()
    script = ScriptDirectory.from_config(alembic_config())
    revisions = script.iterate_revisions("heads", current[0] if current else "base")
    return [revision.revision for revision in reversed(list(revisions))]


async def upgrade_engine(
    engine: AsyncEngine, revision: str = "head", steps: Steps | None = None
) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if steps is not None:
            steps.start(len(pending(connection)))
            config.attributes["on_version_apply"] = lambda **kw: steps.done(
                kw["step"].up_revision_id
            )
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


def upgrade_database(settings: Settings, steps: Steps | None = None) -> None:
    async def run() -> None:
        engine = create_engine(settings)
        try:
            await upgrade_engine(engine, steps=steps)
        finally:
            await engine.dispose()

    asyncio.run(run())
