"""Fifty simultaneous identical sign-ups make exactly one customer, on SQLite and PostgreSQL,
through the in-process app and through a real server."""

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from referly.db.models import Customer, Program
from tests.builders import Cast
from tests.live import LiveServer
from tests.live_programs import live_program

RACERS = 50


async def race(
    api: httpx.AsyncClient, body_of: Callable[[int], dict[str, Any]]
) -> list[httpx.Response]:
    return list(
        await asyncio.gather(*(api.post("/v1/customers", json=body_of(n)) for n in range(RACERS)))
    )


def assert_one_winner(responses: list[httpx.Response], field: str) -> None:
    assert Counter(r.status_code for r in responses) == {201: 1, 422: RACERS - 1}, [
        (r.status_code, r.text) for r in responses if r.status_code not in (201, 422)
    ]
    for response in responses:
        if response.status_code == 422:
            error = response.json()
            message = "Duplicate key" if field == "key" else "The email has already been taken."
            assert error["message"] == message and error["status"] == 0
            assert field in error["errors"], error


async def rows_in_program(app: FastAPI, public_id: str) -> int:
    async with app.state.sessionmaker() as session:
        statement = (
            select(func.count())
            .select_from(Customer)
            .join(Program, Program.id == Customer.program_id)
            .where(Program.public_id == public_id)
        )
        return int(await session.scalar(statement) or 0)


async def test_fifty_simultaneous_creates_with_one_key_make_one_customer(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("racer@example.com", key="racer")
    responses = await race(
        cast.alice.api,
        lambda n: {"key": "same-key", "email": f"r{n}@example.com", "partner": {"key": "racer"}},
    )
    assert_one_winner(responses, "key")
    assert await rows_in_program(app, cast.alice.public_id) == 1


async def test_fifty_simultaneous_creates_with_one_email_make_one_customer(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("racer2@example.com", key="racer2")
    responses = await race(
        cast.alice.api,
        lambda n: {"key": f"key-{n}", "email": "Same@Example.com", "partner": {"key": "racer2"}},
    )
    assert_one_winner(responses, "email")
    assert await rows_in_program(app, cast.alice.public_id) == 1


async def test_fifty_simultaneous_creates_over_http_make_one_customer(
    app: FastAPI, live_server: LiveServer
) -> None:
    program = await asyncio.to_thread(
        live_program, live_server, "Race over HTTP", [("live-racer@example.com", "live-racer")]
    )
    async with httpx.AsyncClient(base_url=live_server.url, headers=program.headers) as api:
        by_key = await race(
            api,
            lambda n: {
                "key": "one",
                "email": f"h{n}@example.com",
                "partner": {"key": "live-racer"},
            },
        )
        by_email = await race(
            api,
            lambda n: {
                "key": f"k{n}",
                "email": "one@example.com",
                "partner": {"key": "LIVE-RACER"},
            },
        )
    assert_one_winner(by_key, "key")
    assert_one_winner(by_email, "email")
    assert await rows_in_program(app, program.public_id) == 2
