"""API tokens: stored hashed, refused once revoked, never logged, compared in constant time."""

import hashlib
import hmac
import time
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from referly.config import Settings
from referly.db.models import ApiToken, Program
from referly.db.reads import SessionReader
from referly.domain import programs, tokens
from referly.domain.programs import NewProgram
from referly.errors import Unauthorized
from tests.builders import Cast, make_cast
from tests.live import LiveServer
from tests.own_app import own_app

UNAUTHENTICATED = {"message": "Unauthenticated.", "status": 0}


async def test_a_token_is_stored_only_as_a_hash_with_a_readable_prefix(
    cast: Cast, app: FastAPI
) -> None:
    token = cast.alice.token
    scheme, prefix, secret = token.split("_", 2)
    assert (scheme, len(prefix)) == ("rfl", 8) and len(secret) >= 40
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        raw = (await session.execute(text("SELECT * FROM api_tokens"))).all()
    stored = " ".join(str(value) for record in raw for value in record)
    assert prefix in stored
    assert secret not in stored and token not in stored


async def test_a_revoked_token_is_refused_from_the_next_request(settings: Settings) -> None:
    async with own_app(settings, client_ip="192.0.2.31") as (application, client):
        cast = await make_cast(application, client)
        assert (await cast.alice.api.get("/v1/test")).status_code == 200
        async with application.state.sessionmaker() as session, session.begin():
            await tokens.revoke_token(session, cast.alice.token.split("_")[1])
        refused = await cast.alice.api.get("/v1/test")
        assert (refused.status_code, refused.json()) == (401, UNAUTHENTICATED)
        write = await cast.alice.api.post("/v1/partners", json={"email": "late@example.com"})
        assert write.status_code == 401
        assert (await cast.bob.api.get("/v1/test")).status_code == 200
        assert (await cast.bob.api.get("/v1/partners")).json()["data"] == []


async def test_refusals_look_the_same_whatever_was_wrong(settings: Settings) -> None:
    """No oracle: an unknown prefix, a wrong secret and a revoked token read alike."""
    async with own_app(settings, client_ip="192.0.2.32") as (application, client):
        cast = await make_cast(application, client)
        prefix = cast.alice.token.split("_")[1]
        async with application.state.sessionmaker() as session, session.begin():
            await tokens.revoke_token(session, cast.bob.token)
        answers = []
        for token in (f"rfl_{prefix}_wrong", "rfl_ffffffff_unknown", cast.bob.token, "junk"):
            response = await client.get("/v1/test", headers={"Authorization": f"Bearer {token}"})
            answers.append((response.status_code, response.json()))
        assert answers == [(401, UNAUTHENTICATED)] * 4


async def test_tokens_are_compared_in_constant_time(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each lookup, found or not, ends in one `hmac.compare_digest` of two full digests: the
    secret is never compared with `==`, which stops at the first differing character."""
    calls: list[tuple[Any, Any]] = []

    def recording_compare(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(tokens, "hmac", SimpleNamespace(compare_digest=recording_compare))
    async with app.state.sessionmaker() as session, session.begin():
        program = await programs.create_program(session, NewProgram("Timing"))
        issued = await tokens.create_token(session, program, None)
        prefix = issued.row.prefix
        found = await tokens.authenticate(SessionReader(session), issued.token)
        assert isinstance(found, Program) and found.id == program.id
        for wrong in (f"rfl_{prefix}_{'x' * 43}", f"rfl_{'0' * 8}_{'x' * 43}"):
            with pytest.raises(Unauthorized):
                await tokens.authenticate(SessionReader(session), wrong)
    assert len(calls) == 3
    assert all(len(a) == len(b) == 64 for a, b in calls)


def live_token(server: LiveServer, name: str) -> tuple[str, str, str]:
    """A program made with the CLI, and a token for it: (token, prefix, program id)."""
    public_id = str(server.cli("programs", "create", "--name", name)["public_id"])
    issued = server.cli("tokens", "create", "--program", public_id)
    return str(issued["token"]), str(issued["prefix"]), public_id


def status_of(server: LiveServer, token: str, path: str = "/v1/test") -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(server.url + path, headers=headers, timeout=10).status_code


def test_a_token_revoked_with_the_cli_is_refused_by_the_running_server(
    live_server: LiveServer,
) -> None:
    token, prefix, public_id = live_token(live_server, "Revoked on the live server")
    assert status_of(live_server, token) == 200
    assert live_server.cli("tokens", "revoke", prefix) == {"revoked": True, "prefix": prefix}
    assert status_of(live_server, token) == 401
    listed = live_server.cli("tokens", "list", "--program", public_id)["data"]
    assert [(t["prefix"], t["revoked_at"] is not None) for t in listed] == [(prefix, True)]


def test_the_token_never_appears_in_the_server_log(live_server: LiveServer) -> None:
    token, prefix, _ = live_token(live_server, "Logged server")
    secret = token.split("_", 2)[2]
    assert status_of(live_server, token, f"/v1/partners/log-check-{uuid.uuid4().hex}") == 404
    assert status_of(live_server, token) == 200
    httpx.post(
        live_server.url + "/v1/partners",
        json={"email": "not-an-email", "password": token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    live_server.cli("tokens", "revoke", prefix)
    assert status_of(live_server, token) == 401
    assert status_of(live_server, f"rfl_{prefix}_{secret[::-1]}") == 401
    log = wait_for_log(live_server, "GET /v1/test 401", times=2)
    assert "GET /v1/test 200" in log  # the log does record requests
    assert token not in log and secret not in log


def wait_for_log(server: LiveServer, needle: str, timeout: float = 10, times: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = server.log_path.read_text(errors="replace")
        if log.count(needle) >= times or time.monotonic() > deadline:
            assert log.count(needle) >= times, f"the server log never showed {needle}"
            return log
        time.sleep(0.1)
