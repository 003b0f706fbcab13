"""`referly tokens ...`"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.common import iso_timestamp
from referly.cli.output import (
    JsonFlag,
    OldestFirstOpt,
    ProgramOpt,
    emit,
    run_in_session,
    table,
    when,
)
from referly.db.models import ApiToken
from referly.domain import programs, tokens
from referly.domain.tokens import IssuedToken

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


def _token_json(row: ApiToken, program_id: str) -> dict[str, Any]:
    return {
        "prefix": row.prefix,
        "program": program_id,
        "name": row.name,
        "created_at": iso_timestamp(row.created_at),
        "revoked_at": iso_timestamp(row.revoked_at),
    }


@app.command("create")
def create(
    program: ProgramOpt,
    name: Annotated[str | None, typer.Option(help="A label for the token.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a token. The token is printed once and stored only as a hash."""

    async def work(session: AsyncSession) -> IssuedToken:
        found = await programs.get_program(session, program)
        return await tokens.create_token(session, found, name)

    issued = run_in_session(work, as_json)
    payload = {"token": issued.token, **_token_json(issued.row, program.upper())}
    emit(payload, as_json, f"{issued.token}\n(shown once: only its hash is kept)")


@app.command("list")
def list_(
    program: ProgramOpt, oldest_first: OldestFirstOpt = False, as_json: JsonFlag = False
) -> None:
    """List a program's tokens, newest first (their prefixes: the secret is never stored)."""

    async def work(session: AsyncSession) -> list[ApiToken]:
        found = await programs.get_program(session, program)
        return list(await tokens.list_tokens(session, found, not oldest_first))

    rows = run_in_session(work, as_json)
    shown = table(
        ["PREFIX", "NAME", "STATE", "CREATED (UTC)", "REVOKED (UTC)"],
        [
            [
                r.prefix,
                r.name,
                "revoked" if r.revoked_at else "active",
                when(r.created_at),
                when(r.revoked_at),
            ]
            for r in rows
        ],
    )
    emit({"data": [_token_json(r, program.upper()) for r in rows]}, as_json, shown)


@app.command("revoke")
def revoke(
    token: Annotated[str, typer.Argument(help="The token, or its prefix.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token; it is refused from the next request on."""

    async def work(session: AsyncSession) -> ApiToken:
        return await tokens.revoke_token(session, token)

    row = run_in_session(work, as_json)
    emit({"revoked": True, "prefix": row.prefix}, as_json, f"revoked {row.prefix}")
