"""`referly partners ...`"""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.partners import PartnerCreateIn, PartnerOut, partner_out
from referly.cli.output import JsonFlag, emit, parse, run_in_session
from referly.domain import partners as service
from referly.domain import programs
from referly.domain.pagination import MAX_LIMIT

app = typer.Typer(help="Create and list partners.", no_args_is_help=True)
ProgramOpt = Annotated[str, typer.Option("--program", help="The program's public id.")]


@app.command("create")
def create(
    program: ProgramOpt,
    email: Annotated[str, typer.Option(help="Partner's email (unique in the program).")],
    key: Annotated[str | None, typer.Option(help="Referral key; generated if omitted.")] = None,
    name: Annotated[str | None, typer.Option(help="Partner's name.")] = None,
    surname: Annotated[str | None, typer.Option(help="Partner's surname.")] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="Partner id; generated if omitted.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a partner."""
    body: PartnerCreateIn = parse(
        PartnerCreateIn,
        {"email": email, "key": key, "name": name, "surname": surname, "id": id},
        as_json,
    )

    async def work(session: AsyncSession) -> PartnerOut:
        found = await programs.get_program(session, program)
        partner = await service.create_partner(session, found, body.to_domain())
        [view] = await service.partner_views(session, [partner])
        return partner_out(found, view)

    out = run_in_session(work, as_json)
    emit(out.model_dump(), as_json, f"{out.id}\t{out.key}\t{out.email}")


@app.command("list")
def list_(
    program: ProgramOpt,
    page: Annotated[int, typer.Option(min=1)] = 1,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List a program's partners."""

    async def work(session: AsyncSession) -> list[PartnerOut]:
        found = await programs.get_program(session, program)
        listed = await service.list_partners(session, found, page, limit)
        views = await service.partner_views(session, listed.items)
        return [partner_out(found, view) for view in views]

    rows = run_in_session(work, as_json)
    lines = [f"{p.id}\t{p.key}\t{p.email}\t{p.referrals_count}" for p in rows]
    emit({"data": [p.model_dump() for p in rows]}, as_json, "\n".join(lines))
