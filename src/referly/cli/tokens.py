"""`referly tokens ...`"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.common import iso_timestamp
from referly.cli.output import JsonFlag, emit, run_in_session
from referly.db.models import ApiToken
from referly.domain import programs, tokens
from referly.domain.tokens import IssuedToken

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
ProgramOpt = Annotated[str, typer.Option("--program", help="The program's public id.")]


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
    emit(payload, as_json, issued.token)


@app.command("list")
def list_(program: ProgramOpt, as_json: JsonFlag = False) -> None:
    """List a program's tokens (prefixes only)."""

    async def work(session: AsyncSession) -> list[ApiToken]:
        return list(await tokens.list_tokens(session, await programs.get_program(session, program)))

    rows = run_in_session(work, as_json)
    lines = [f"{r.prefix}\t{'revoked' if r.revoked_at else 'active'}\t{r.name or ''}" for r in rows]
    emit({"data": [_token_json(r, program.upper()) for r in rows]}, as_json, "\n".join(lines))


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
