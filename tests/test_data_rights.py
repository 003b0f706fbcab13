"""Deleting a customer erases the person, on SQLite and PostgreSQL: every table and every
column of the database is read back (tables found by inspection, so a table added later is
covered without touching this test) and none may still hold the customer's email, name,
surname, visitor id, landing URL, referrer or network hash."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Connection

from referly.db.models import Click
from tests.builders import Cast, ProgramFixture
from tests.tracking_helpers import clicks_of, customers_of, report

Trace = tuple[str, str, str]  # table, column, the needle found there


def reflect_tables(connection: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(bind=connection)
    return list(metadata.sorted_tables)


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


async def traces_of(app: FastAPI, needles: list[str]) -> list[Trace]:
    """Every (table, column) in the whole database whose value contains one of `needles`,
    compared case-insensitively."""
    found: list[Trace] = []
    async with app.state.engine.connect() as connection:
        tables = await connection.run_sync(reflect_tables)
        assert {"customers", "clicks", "idempotency_keys"} <= {t.name for t in tables}
        for table in tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    text = as_text(value).lower()
                    found += [(table.name, column, n) for n in needles if n.lower() in text]
    return found


@dataclass
class Person:
    """A customer's distinctive personal data, unique to one test run."""

    tag: str
    customer_key: str
    email: str
    name: str
    surname: str

    @classmethod
    def made_up(cls, role: str) -> "Person":
        tag = uuid.uuid4().hex[:10]
        return cls(
            tag=tag,
            customer_key=f"{role}-{tag}",
            email=f"{role}.{tag}@Mail.Example",
            name=f"Name{tag}",
            surname=f"Surname{tag}",
        )

    @property
    def needles(self) -> list[str]:
        return [self.email, self.name, self.surname]

    def body(self, **extra: Any) -> dict[str, Any]:
        person = {"email": self.email, "name": self.name, "surname": self.surname}
        return {"key": self.customer_key, **person, **extra}


async def sign_up_after_two_visits(
    client: httpx.AsyncClient, program: ProgramFixture, partner_key: str, person: Person
) -> list[str]:
    """A visitor clicks twice, then signs up through the public path. The needles its clicks
    leave: visitor id, landing URL, referrer."""
    visitor = f"visitor{person.tag}"
    landing = f"https://www.shop.example/landing-{person.tag}?aff={partner_key}"
    referrer = f"https://blog.example/review-{person.tag}"
    click = {"key": partner_key, "url": landing, "referrer": referrer, "visitor": visitor}
    for _ in range(2):
        assert (await report(client, program.public_id, "clicks", click)).status_code == 202
    signup = person.body(partner=partner_key, visitor=visitor)
    assert (await report(client, program.public_id, "signups", signup)).status_code == 202
    return [visitor, f"landing-{person.tag}", f"review-{person.tag}"]


async def create_with_idempotency_key(
    program: ProgramFixture, person: Person, partner_key: str
) -> None:
    response = await program.api.post(
        "/v1/customers",
        json=person.body(partner={"key": partner_key}),
        headers={"Idempotency-Key": f"create-{person.tag}"},
    )
    assert response.status_code == 201, response.text


async def test_deleting_a_customer_erases_their_personal_data_from_every_table(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("partner@example.com", key="jane")
    web, api = Person.made_up("web"), Person.made_up("api")
    visit_needles = await sign_up_after_two_visits(client, cast.alice, "jane", web)
    await create_with_idempotency_key(cast.alice, api, "jane")
    clicks = await clicks_of(app, cast.alice.public_id)
    network_hash = clicks[0].ip_hash
    assert network_hash is not None
    needles = [*web.needles, *api.needles, *visit_needles, network_hash]
    before = {needle for _, _, needle in await traces_of(app, needles)}
    assert before == set(needles)  # the scan sees them all while the customers exist
    for person in (web, api):
        deleted = await cast.alice.api.delete(f"/v1/customers/{person.customer_key}")
        assert (deleted.status_code, deleted.json()) == (200, {"status": 1})
    assert await traces_of(app, needles) == []
    assert await customers_of(app, cast.alice.public_id) == []
    # The visits themselves stay, credited as before, so the partner's click count holds.
    after = await clicks_of(app, cast.alice.public_id)
    assert [(c.id, c.partner_id, c.referral_link_id) for c in after] == [
        (c.id, c.partner_id, c.referral_link_id) for c in clicks
    ]


async def test_erasure_leaves_other_customers_and_other_programs_alone(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    for program in (cast.alice, cast.bob):
        await program.partner("partner@example.com", key="jane")
    leaving, staying = Person.made_up("leaving"), Person.made_up("staying")
    await create_with_idempotency_key(cast.alice, leaving, "jane")
    await create_with_idempotency_key(cast.alice, staying, "jane")
    # Bob's program holds a customer with the very same key and email, and a visitor.
    await create_with_idempotency_key(cast.bob, leaving, "jane")
    bob_visit = await sign_up_after_two_visits(client, cast.bob, "jane", staying)
    deleted = await cast.alice.api.delete(f"/v1/customers/{leaving.customer_key}")
    assert deleted.status_code == 200
    remaining = {(table, needle) for table, _, needle in await traces_of(app, leaving.needles)}
    assert ("customers", leaving.email) in remaining  # Bob's customer
    assert ("idempotency_keys", leaving.email) in remaining  # Bob's stored answer
    for program, person in ((cast.alice, staying), (cast.bob, leaving)):
        replay = await program.api.post(
            "/v1/customers",
            json=person.body(partner={"key": "jane"}),
            headers={"Idempotency-Key": f"create-{person.tag}"},
        )
        assert replay.headers.get("Idempotent-Replayed") == "true", program.public_id
    bobs = await cast.bob.api.get(f"/v1/customers/{leaving.customer_key}")
    assert bobs.json()["data"]["email"] == leaving.email
    bob_clicks = await clicks_of(app, cast.bob.public_id)
    assert {c.visitor_id for c in bob_clicks} == {bob_visit[0]}


async def test_a_retry_after_erasure_runs_afresh_instead_of_replaying_erased_data(
    cast: Cast,
) -> None:
    await cast.alice.partner("partner@example.com", key="jane")
    person = Person.made_up("retry")
    await create_with_idempotency_key(cast.alice, person, "jane")
    assert (await cast.alice.api.delete(f"/v1/customers/{person.customer_key}")).status_code == 200
    retry = await cast.alice.api.post(
        "/v1/customers",
        json=person.body(partner={"key": "jane"}),
        headers={"Idempotency-Key": f"create-{person.tag}"},
    )
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers


async def test_a_click_without_a_visitor_id_is_scrubbed_too(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    """Even a customer linked to a click with no visitor id loses that click's traces."""
    await cast.alice.partner("partner@example.com", key="jane")
    person = Person.made_up("novisitor")
    landing = f"https://www.shop.example/only-{person.tag}"
    click = {"key": "jane", "url": landing, "visitor": f"v{person.tag}"}
    await report(client, cast.alice.public_id, "clicks", click)
    signup = person.body(partner="jane", visitor=f"v{person.tag}")
    await report(client, cast.alice.public_id, "signups", signup)
    async with app.state.sessionmaker() as session, session.begin():
        [stored] = await clicks_of(app, cast.alice.public_id)
        row = await session.get(Click, stored.id)
        assert row is not None
        row.visitor_id = None  # as recorded by an older script that sent none
    assert (await cast.alice.api.delete(f"/v1/customers/{person.customer_key}")).status_code == 200
    assert await traces_of(app, [landing, *person.needles]) == []


async def test_erasure_finds_the_customer_under_every_key_and_email_it_had(
    app: FastAPI, cast: Cast
) -> None:
    """Created with an idempotency key (the stored answer repeats the customer), renamed and
    given a new email, then deleted: the stored answer under the old key and email goes too."""
    await cast.alice.partner("renames@example.com", key="renames")
    before, after = Person.made_up("before"), Person.made_up("after")
    await create_with_idempotency_key(cast.alice, before, "renames")
    changed = await cast.alice.api.put(
        f"/v1/customers/{before.customer_key}",
        json={"update": {"key": after.customer_key, "email": after.email, "name": after.name}},
    )
    assert changed.status_code == 200, changed.text
    assert await traces_of(app, before.needles)  # the old answer still holds the old data
    deleted = await cast.alice.api.delete(f"/v1/customers/{after.customer_key}")
    assert deleted.status_code == 200
    assert await traces_of(app, [*before.needles, after.email, after.name]) == []
