"""Small typed builders for test data, created through the same services the API uses."""

from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from referly.domain import programs, tokens
from referly.domain.programs import NewProgram


@dataclass
class ProgramFixture:
    public_id: str
    token: str
    api: httpx.AsyncClient  # authenticated as this program

    async def partner(self, email: str, key: str | None = None, **fields: object) -> dict:
        body: dict[str, object] = {"email": email, **fields}
        if key is not None:
            body["key"] = key
        response = await self.api.post("/v1/partners", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()["data"])


@dataclass
class Cast:
    """Alice runs one program, Bob another; tests read like sentences with them."""

    alice: ProgramFixture
    bob: ProgramFixture


async def make_program(
    app: FastAPI, client: httpx.AsyncClient, name: str, type: str = "affiliate"
) -> ProgramFixture:
    async with app.state.sessionmaker() as session, session.begin():
        program = await programs.create_program(session, NewProgram(name=name, type=type))
        issued = await tokens.create_token(session, program, "tests")
    api = httpx.AsyncClient(
        transport=client._transport,
        base_url=client.base_url,
        headers={"Authorization": f"Bearer {issued.token}", "Accept": "application/json"},
    )
    return ProgramFixture(public_id=program.public_id, token=issued.token, api=api)


async def make_cast(app: FastAPI, client: httpx.AsyncClient) -> Cast:
    alice = await make_program(app, client, "Alice's program")
    bob = await make_program(app, client, "Bob's program")
    return Cast(alice=alice, bob=bob)
