"""`referly partners ...`"""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.partners import PartnerCreateIn, PartnerOut, partner_out
from referly.cli.output import (
    JsonFlag,
    LimitOpt,
    OldestFirstOpt,
    PageOpt,
    ProgramOpt,
    emit,
    parse,
    run_in_session,
    table,
)
from referly.domain import partners as service
from referly.domain import programs

app = typer.Typer(help="Create and list partners.", no_args_is_help=True)


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
    emit(out.model_dump(), as_json, f"partner {out.id} ({out.email}), link {out.referral_link}")


@app.command("list")
def list_(
    program: ProgramOpt,
    page: PageOpt = 1,
    limit: LimitOpt = 50,
    oldest_first: OldestFirstOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """List a program's partners, newest first, with how many customers each referred."""

    async def work(session: AsyncSession) -> list[PartnerOut]:
        found = await programs.get_program(session, program)
        listed = await service.list_partners(session, found, page, limit, not oldest_first)
        views = await service.partner_views(session, listed.items)
        return [partner_out(found, view) for view in views]

    rows = run_in_session(work, as_json)
    shown = table(
        ["ID", "KEY", "EMAIL", "NAME", "STATUS", "REFERRALS", "LINK"],
        [
            [
                p.id,
                p.key,
                p.email,
                " ".join(filter(None, (p.name, p.surname))),
                p.status,
                p.referrals_count,
                p.referral_link,
            ]
            for p in rows
        ],
    )
    emit({"data": [p.model_dump() for p in rows]}, as_json, shown)
