"""Bring a database's schema up to date by running the Alembic migrations."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from referly.config import Settings
from referly.db.engine import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


def upgrade_database(settings: Settings) -> None:
    async def run() -> None:
        engine = create_engine(settings)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
