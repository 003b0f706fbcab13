"""Every way the database can fail to answer becomes a 503 in the error shape, never a 500:
wrapped by SQLAlchemy or escaping raw from the driver."""

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from referly.config import Settings
from tests.own_app import own_app

FAILURES: dict[str, Exception] = {
    "wrapped operational error": OperationalError("SELECT 1", {}, Exception("gone")),
    "pool timeout": PoolTimeout("QueuePool limit reached"),
    "connection refused": ConnectionRefusedError(111, "Connection refused"),
    "raw asyncpg connection lost": asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
    "raw asyncpg shutting down": asyncpg.exceptions.AdminShutdownError("terminating"),
    "raw asyncpg interface error": asyncpg.InterfaceError("connection is closed"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_a_database_failure_is_a_503_in_the_error_shape(
    settings: Settings, name: str
) -> None:
    async with own_app(settings) as (app, client):

        @app.get("/v1/failing-database")
        async def failing() -> None:
            raise FAILURES[name]

        answer = await client.get("/v1/failing-database")
    assert answer.status_code == 503, answer.text
    assert answer.json()["status"] == 0
    assert answer.json()["message"]
