"""A 2xx means on disk: every SQLite connection Referly opens (the engine's and the group-commit
writer's) runs in WAL mode with synchronous=FULL, so a commit survives a power cut."""

from pathlib import Path

from sqlalchemy import text

from referly.config import Settings
from referly.db.engine import create_engine
from referly.db.group_commit_drivers import SqliteDriver

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


async def test_engine_connections_commit_to_disk(tmp_path: Path) -> None:
    engine = create_engine(Settings(database_url=f"sqlite:///{tmp_path / 'engine.db'}"))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA synchronous")) == FULL
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
    finally:
        await engine.dispose()


async def test_the_writer_connection_commits_to_disk(tmp_path: Path) -> None:
    driver = SqliteDriver(str(tmp_path / "writer.db"))
    try:
        connection = driver._connect()
        assert connection.execute("PRAGMA synchronous").fetchone() == (FULL,)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await driver.close()
