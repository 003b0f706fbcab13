"""`referly programs ...`"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.programs import program_out
from referly.cli.output import JsonFlag, emit, run_in_session
from referly.db.models import Program
from referly.domain import programs as service
from referly.domain.programs import NewProgram

app = typer.Typer(help="Create and list programs.", no_args_is_help=True)


def _program_json(program: Program) -> dict[str, Any]:
    data = program_out(program).model_dump()
    data["public_id"] = data["id"]
    return data


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Program name.")],
    type: Annotated[str, typer.Option(help="affiliate or referral.")] = "affiliate",
    website: Annotated[str | None, typer.Option(help="Your site, used in referral links.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a program; prints its public id for `po('program', ID, 'load')`."""

    async def work(session: AsyncSession) -> Program:
        return await service.create_program(session, NewProgram(name, type, website))

    program = run_in_session(work, as_json)
    emit(_program_json(program), as_json, f"{program.public_id}\t{program.name}\t{program.type}")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List every program."""

    async def work(session: AsyncSession) -> list[Program]:
        return list(await service.list_programs(session))

    programs = run_in_session(work, as_json)
    lines = [f"{p.public_id}\t{p.name}\t{p.type}" for p in programs]
    emit({"data": [_program_json(p) for p in programs]}, as_json, "\n".join(lines))
