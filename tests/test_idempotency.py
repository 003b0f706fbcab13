"""`Idempotency-Key` on every `POST /v1/...`, on SQLite and PostgreSQL."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from referly.api.deps import ProgramDep, SessionDep
from referly.config import Settings
from referly.db.engine import async_url, create_engine
from referly.db.migrate import alembic_config, upgrade_engine
from referly.db.models import Base, IdempotencyKey, Partner
from referly.db.types import utcnow
from referly.domain import partners
from referly.domain.partners import NewPartner
from referly.web import idempotency as idempotency_store
from tests.builders import Cast, ProgramFixture, make_cast
from tests.own_app import own_app

REPLAYED = "Idempotent-Replayed"


async def post(
    program: ProgramFixture, key: str | None, body: dict[str, Any], path: str = "/v1/partners"
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await program.api.post(path, json=body, headers=headers)


async def partner_emails(program: ProgramFixture) -> list[str]:
    listed = await program.api.get("/v1/partners", params={"limit": 250})
    assert listed.status_code == 200, listed.text
    return [p["email"] for p in listed.json()["data"]]


async def stored_keys(app: FastAPI, key: str) -> list[IdempotencyKey]:
    async with app.state.sessionmaker() as session:
        found = await session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key))
        return list(found)


async def test_a_retry_replays_the_first_answer_and_creates_nothing(cast: Cast) -> None:
    body = {"email": "once@example.com", "name": "Once"}
    first = await post(cast.alice, "create-once-1", body)
    assert first.status_code == 201 and REPLAYED not in first.headers
    again = await post(cast.alice, "create-once-1", body)
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert await partner_emails(cast.alice) == ["once@example.com"]


async def test_the_same_key_with_another_body_is_a_conflict(cast: Cast) -> None:
    assert (await post(cast.alice, "k-conflict", {"email": "a@example.com"})).status_code == 201
    other = await post(cast.alice, "k-conflict", {"email": "b@example.com"})
    assert other.status_code == 409
    error = other.json()
    assert error["status"] == 0 and "different request" in error["message"]
    assert REPLAYED not in other.headers
    assert await partner_emails(cast.alice) == ["a@example.com"]


async def test_the_same_key_on_another_path_is_a_conflict(cast: Cast) -> None:
    partner = await cast.alice.partner("path@example.com", key="pathkey")
    body = {"key": "cus-path", "partner": {"key": partner["key"]}}
    assert (await post(cast.alice, "k-path", body, "/v1/customers")).status_code == 201
    elsewhere = await post(cast.alice, "k-path", body, "/v1/partner_referral_links")
    assert elsewhere.status_code == 409


async def test_keys_belong_to_one_program(cast: Cast) -> None:
    body = {"email": "shared@example.com"}
    alice = await post(cast.alice, "shared-key", body)
    bob = await post(cast.bob, "shared-key", body)
    assert (alice.status_code, bob.status_code) == (201, 201)
    assert REPLAYED not in bob.headers
    assert alice.json()["data"]["id"] != bob.json()["data"]["id"]
    assert await partner_emails(cast.bob) == ["shared@example.com"]


async def test_refusals_are_stored_and_replayed_like_stripe(cast: Cast) -> None:
    refused = await post(cast.alice, "k-refused", {"email": "not-an-email"})
    assert refused.status_code == 422
    again = await post(cast.alice, "k-refused", {"email": "not-an-email"})
    assert (again.status_code, again.headers[REPLAYED]) == (422, "true")
    assert again.json() == refused.json()
    fixed = await post(cast.alice, "k-refused", {"email": "fixed@example.com"})
    assert fixed.status_code == 409  # the key is spent: a corrected request needs a new key
    assert await partner_emails(cast.alice) == []


async def test_an_unauthenticated_answer_is_not_stored(cast: Cast, app: FastAPI) -> None:
    body = {"email": "late@example.com"}
    anonymous = await cast.alice.api.post(
        "/v1/partners",
        json=body,
        headers={"Authorization": "Bearer rfl_00000000_nope", "Idempotency-Key": "k-401"},
    )
    assert anonymous.status_code == 401
    assert await stored_keys(app, "k-401") == []
    created = await post(cast.alice, "k-401", body)
    assert created.status_code == 201 and REPLAYED not in created.headers


async def test_invalid_keys_are_refused_with_400_and_change_nothing(cast: Cast) -> None:
    for key in ("x" * 256, "has space", "", "caf\u00e9"):
        response = await cast.alice.api.post(
            "/v1/partners",
            json={"email": "bad-key@example.com"},
            headers={"Idempotency-Key": key.encode()},
        )
        assert response.status_code == 400, (key, response.text)
        assert response.json()["status"] == 0 and "Idempotency-Key" in response.json()["message"]
    assert await partner_emails(cast.alice) == []
    longest = await post(cast.alice, "k" * 255, {"email": "longest@example.com"})
    assert longest.status_code == 201


async def test_a_key_is_forgotten_after_24_hours(cast: Cast, app: FastAPI) -> None:
    assert (await post(cast.alice, "k-old", {"email": "day1@example.com"})).status_code == 201
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "k-old")
            .values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
    reused = await post(cast.alice, "k-old", {"email": "day2@example.com"})
    assert reused.status_code == 201 and REPLAYED not in reused.headers
    assert await partner_emails(cast.alice) == ["day1@example.com", "day2@example.com"]
    assert len(await stored_keys(app, "k-old")) == 1


async def test_concurrent_duplicates_do_the_work_once(cast: Cast) -> None:
    body = {"email": "race@example.com", "name": "Race"}
    answers = await asyncio.gather(*(post(cast.alice, "k-race", body) for _ in range(6)))
    fresh = [a for a in answers if a.status_code == 201 and REPLAYED not in a.headers]
    assert len(fresh) == 1, [(a.status_code, a.text) for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert "in progress" in answer.json()["message"]
        else:
            assert answer.status_code == 201 and answer.content == fresh[0].content
    assert await partner_emails(cast.alice) == ["race@example.com"]
    replay = await post(cast.alice, "k-race", body)
    assert replay.headers[REPLAYED] == "true" and replay.content == fresh[0].content


async def test_a_customer_post_is_replayed_too(cast: Cast) -> None:
    await cast.alice.partner("seller@example.com", key="seller")
    body = {"key": "cus-idem", "email": "buyer@example.com", "partner": {"key": "seller"}}
    first = await post(cast.alice, "k-customer", body, "/v1/customers")
    again = await post(cast.alice, "k-customer", body, "/v1/customers")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers[REPLAYED] == "true" and again.content == first.content
    listed = (await cast.alice.api.get("/v1/customers")).json()["data"]
    assert [c["key"] for c in listed] == ["cus-idem"]


async def test_get_requests_ignore_the_key(cast: Cast) -> None:
    await cast.alice.partner("get@example.com")
    first = await cast.alice.api.get("/v1/partners", headers={"Idempotency-Key": "k-get"})
    await cast.alice.partner("get2@example.com")
    second = await cast.alice.api.get("/v1/partners", headers={"Idempotency-Key": "k-get"})
    assert REPLAYED not in second.headers
    assert len(second.json()["data"]) == len(first.json()["data"]) + 1


async def test_a_new_post_route_is_covered_and_a_5xx_is_not_stored(settings: Settings) -> None:
    """A route added later, with no idempotency code of its own: its 500 frees the key, the
    retry runs again, and the retry's success is what gets replayed."""
    failures = {"left": 1}

    async def flaky_signup(session: SessionDep, program: ProgramDep) -> dict[str, str]:
        partner = await partners.create_partner(session, program, NewPartner("flaky@x.com"))
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the work failed half-way")
        return {"id": partner.public_id}

    async with own_app(settings) as (application, client):
        application.router.add_api_route("/v1/flaky", flaky_signup, methods=["POST"])
        cast = await make_cast(application, client)
        failed = await post(cast.alice, "k-flaky", {}, "/v1/flaky")
        assert failed.status_code == 500
        assert failed.json() == {"message": "Server error", "status": 0}  # no internals shown
        assert await stored_keys(application, "k-flaky") == []
        retried = await post(cast.alice, "k-flaky", {}, "/v1/flaky")
        assert retried.status_code == 200 and REPLAYED not in retried.headers
        replayed = await post(cast.alice, "k-flaky", {}, "/v1/flaky")
        assert replayed.headers[REPLAYED] == "true" and replayed.json() == retried.json()
        async with application.state.sessionmaker() as session:
            count = select(func.count()).where(Partner.email == "flaky@x.com")
            assert await session.scalar(count) == 1


async def test_the_openapi_document_declares_the_header_on_every_post(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document = (await client.get("/openapi.json")).json()
    posts = [
        (path, ops["post"])
        for path, ops in document["paths"].items()
        if path.startswith("/v1/") and "post" in ops
    ]
    assert any(path == "/v1/partners" for path, _ in posts)
    for path, operation in posts:
        names = [p["name"] for p in operation.get("parameters", [])]
        assert "Idempotency-Key" in names, path
        assert "409" in operation["responses"], path


async def test_a_body_cut_off_by_a_disconnect_is_not_answered_or_kept(
    cast: Cast, app: FastAPI
) -> None:
    body = json.dumps({"email": "cut@example.com"}).encode()
    messages = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"authorization", f"Bearer {cast.alice.token}".encode()),
        (b"content-type", b"application/json"),
        (b"idempotency-key", b"k-cut"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/partners",
        "raw_path": b"/v1/partners",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert [m for m in sent if m["type"] == "http.response.start"] == []
    assert await stored_keys(app, "k-cut") == []
    whole = await post(cast.alice, "k-cut", {"email": "cut@example.com"})
    assert whole.status_code == 201 and REPLAYED not in whole.headers


def keyed_scope(token: str, key: str, path: str = "/v1/customers") -> dict[str, Any]:
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"idempotency-key", key.encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


def raw_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


async def post_raw(program: ProgramFixture, key: str, body: dict[str, Any]) -> httpx.Response:
    """The same bytes the raw ASGI calls below send, so that the key sees the same request."""
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    return await program.api.post("/v1/customers", content=raw_json(body), headers=headers)


def one_body(body: dict[str, Any]) -> Any:
    messages = [{"type": "http.request", "body": raw_json(body), "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


async def customer_keys(program: ProgramFixture) -> list[str]:
    listed = await program.api.get("/v1/customers", params={"limit": 250})
    assert listed.status_code == 200, listed.text
    return [c["key"] for c in listed.json()["data"]]


async def test_a_failure_before_the_answer_is_recorded_keeps_nothing(
    cast: Cast, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work is done, then recording its answer fails: the work must not stay behind
    without its answer (a retry would meet a stuck key), so the request is answered 503
    with nothing kept, and the retry creates the customer afresh, once."""
    await cast.alice.partner("atomic@example.com", key="atomic")
    body = {"key": "cus-atomic", "email": "atomic-buyer@example.com", "partner": {"key": "atomic"}}
    real_record = idempotency_store.record
    failures = {"left": 1}

    async def failing_record(*args: Any, **kwargs: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("the database went away between the work and its answer")
        await real_record(*args, **kwargs)

    monkeypatch.setattr(idempotency_store, "record", failing_record)
    failed = await post(cast.alice, "k-atomic", body, "/v1/customers")
    assert failed.status_code == 503 and failed.json()["status"] == 0
    assert await stored_keys(app, "k-atomic") == []
    assert await customer_keys(cast.alice) == []
    retried = await post(cast.alice, "k-atomic", body, "/v1/customers")
    assert retried.status_code == 201 and REPLAYED not in retried.headers, retried.text
    replayed = await post(cast.alice, "k-atomic", body, "/v1/customers")
    assert replayed.headers[REPLAYED] == "true" and replayed.content == retried.content
    assert await customer_keys(cast.alice) == ["cus-atomic"]


async def test_a_request_cut_short_before_its_commit_leaves_nothing(
    cast: Cast, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stops (the request's task is cancelled) after the work, before the commit:
    neither the customer nor the key remains, so the retry runs afresh."""
    await cast.alice.partner("cut-short@example.com", key="cutshort")
    body = {"key": "cus-cut-short", "partner": {"key": "cutshort"}}
    real_record = idempotency_store.record

    async def cancelled_record(*args: Any, **kwargs: Any) -> None:
        raise asyncio.CancelledError()

    monkeypatch.setattr(idempotency_store, "record", cancelled_record)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(asyncio.CancelledError):
        await app(keyed_scope(cast.alice.token, "k-cut-short"), one_body(body), send)
    assert sent == []
    monkeypatch.setattr(idempotency_store, "record", real_record)
    assert await stored_keys(app, "k-cut-short") == []
    assert await customer_keys(cast.alice) == []
    retried = await post_raw(cast.alice, "k-cut-short", body)
    assert retried.status_code == 201 and REPLAYED not in retried.headers, retried.text
    assert await customer_keys(cast.alice) == ["cus-cut-short"]


async def test_an_answer_lost_after_the_commit_is_replayed(cast: Cast, app: FastAPI) -> None:
    """Committed, then the connection died before the answer went out: the key holds the
    answer, so the retry gets it instead of a 409, and there is one customer."""
    await cast.alice.partner("lost-answer@example.com", key="lostanswer")
    body = {"key": "cus-lost-answer", "partner": {"key": "lostanswer"}}

    async def broken_send(message: dict[str, Any]) -> None:
        raise OSError("the client's connection is gone")

    with pytest.raises(OSError):
        await app(keyed_scope(cast.alice.token, "k-lost-answer"), one_body(body), broken_send)
    [stored] = await stored_keys(app, "k-lost-answer")
    assert stored.response_status == 201
    retried = await post_raw(cast.alice, "k-lost-answer", body)
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true", retried.text
    assert retried.json()["data"]["key"] == "cus-lost-answer"
    assert await customer_keys(cast.alice) == ["cus-lost-answer"]


async def test_no_key_is_ever_stored_without_its_answer(cast: Cast, app: FastAPI) -> None:
    """The work's savepoint: a refusal keeps the key with the refusal, a success keeps both;
    no row is left with an empty answer after any of them."""
    await cast.alice.partner("no-gap@example.com", key="nogap")
    body = {"key": "cus-gap", "partner": {"key": "nogap"}}
    ok = await post(cast.alice, "k-gap-ok", body, "/v1/customers")
    assert ok.status_code == 201, ok.text
    taken = await post(cast.alice, "k-gap-dup", body, "/v1/customers")
    assert taken.status_code == 422, taken.text
    unknown = {"key": "cus-gap2", "partner": {"key": "nope"}}
    refused = await post(cast.alice, "k-gap-400", unknown, "/v1/customers")
    assert refused.status_code == 400, refused.text
    async with app.state.sessionmaker() as session:
        rows = list(await session.scalars(select(IdempotencyKey)))
    assert rows and all(row.response_status is not None for row in rows)
    statuses = {row.key: row.response_status for row in rows}
    assert (statuses["k-gap-ok"], statuses["k-gap-dup"], statuses["k-gap-400"]) == (201, 422, 400)
    assert await customer_keys(cast.alice) == ["cus-gap"]


async def reflect(engine: AsyncEngine) -> dict[str, Any]:
    def read(connection: Connection) -> dict[str, Any]:
        found = inspect(connection)
        if "idempotency_keys" not in found.get_table_names():
            return {}
        return {
            "unique": [u["name"] for u in found.get_unique_constraints("idempotency_keys")],
            "indexes": [
                i["name"]
                for i in found.get_indexes("idempotency_keys")
                if not i.get("duplicates_constraint")  # PostgreSQL's index behind the unique
            ],
            "foreign_keys": [f["name"] for f in found.get_foreign_keys("idempotency_keys")],
        }

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


@asynccontextmanager
async def empty_database(backend: str, settings: Settings, tmp: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'migrations.db'}"
        return
    server = make_url(settings.database_url)
    name = f"{server.database}_migrations"
    admin = create_async_engine(
        async_url(server.set(database="postgres").render_as_string(hide_password=False)),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {name}"))
        yield server.set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        await admin.dispose()


async def test_the_migration_upgrades_and_downgrades_on_this_backend(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    expected = {
        "unique": ["uq_idempotency_keys_program_id_key"],
        "indexes": ["ix_idempotency_keys_program_id_created_at"],
        "foreign_keys": ["fk_idempotency_keys_program_id_programs"],
    }
    async with empty_database(backend, settings, tmp_path) as url:
        engine = create_engine(Settings(database_url=url))
        try:
            await upgrade_engine(engine, "0001")
            assert await reflect(engine) == {}
            await upgrade_engine(engine, "0002")
            assert await reflect(engine) == expected
            await downgrade_engine(engine, "0001")
            assert await reflect(engine) == {}
            await upgrade_engine(engine, "0002")
            assert await reflect(engine) == expected
        finally:
            await engine.dispose()


async def test_the_models_match_the_migrated_table(app: FastAPI) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with app.state.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert [d for d in found if "idempotency_keys" in repr(d)] == []
