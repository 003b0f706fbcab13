"""Helpers for the public tracking path's tests: reports as the browser script sends them,
program settings changed through the domain service, and rows read back from the database."""

import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referly.db.models import Click, Customer, Program
from referly.domain import programs
from referly.domain.programs import ProgramChanges

TEXT_PLAIN = {"Content-Type": "text/plain;charset=UTF-8"}
SITE = "https://www.shop.example"


async def report(
    client: httpx.AsyncClient,
    public_id: str,
    action: str,
    body: dict[str, Any] | str,
    origin: str | None = SITE,
) -> httpx.Response:
    """POST a report the way `navigator.sendBeacon` does: a text/plain JSON string."""
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {**TEXT_PLAIN, **({"Origin": origin} if origin else {})}
    return await client.post(f"/t/{public_id}/{action}", content=content, headers=headers)


async def configure(app: FastAPI, public_id: str, **changes: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        program = await programs.get_program(session, public_id)
        await programs.update_program(session, program, ProgramChanges(**changes))


async def clicks_of(app: FastAPI, public_id: str) -> list[Click]:
    async with app.state.sessionmaker() as session:
        statement = (
            select(Click)
            .join(Program, Program.id == Click.program_id)
            .where(Program.public_id == public_id)
            .order_by(Click.id)
        )
        return list((await session.scalars(statement)).all())


async def customers_of(app: FastAPI, public_id: str) -> list[Customer]:
    async with app.state.sessionmaker() as session:
        statement = (
            select(Customer)
            .join(Program, Program.id == Customer.program_id)
            .where(Program.public_id == public_id)
            .order_by(Customer.id)
        )
        return list((await session.scalars(statement)).all())
