"""`referly clicks ...`"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.common import iso_timestamp
from referly.cli.output import JsonFlag, emit, run_in_session
from referly.domain import clicks as service
from referly.domain import programs
from referly.domain.clicks import ClickView
from referly.domain.pagination import MAX_LIMIT

app = typer.Typer(help="List the clicks on referral links.", no_args_is_help=True)
ProgramOpt = Annotated[str, typer.Option("--program", help="The program's public id.")]


def _click_json(view: ClickView) -> dict[str, Any]:
    click = view.click
    return {
        "id": click.id,
        "partner": view.partner_key,
        "partner_id": view.partner_id,
        "referral_key": view.referral_key,
        "landing_url": click.landing_url,
        "referrer": click.referrer,
        "visitor_id": click.visitor_id,
        "created_at": iso_timestamp(click.created_at),
    }


@app.command("list")
def list_(
    program: ProgramOpt,
    page: Annotated[int, typer.Option(min=1)] = 1,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List a program's clicks, newest first."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        found = await programs.get_program(session, program)
        listed = await service.list_clicks(session, found, page, limit)
        return [_click_json(view) for view in await service.click_views(session, listed.items)]

    rows = run_in_session(work, as_json)
    lines = [
        f"{r['created_at']}\t{r['partner']}\t{r['referral_key'] or ''}\t{r['landing_url'] or ''}"
        for r in rows
    ]
    emit({"data": rows}, as_json, "\n".join(lines))
