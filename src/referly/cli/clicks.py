"""`referly clicks ...`"""

from typing import Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.common import iso_timestamp
from referly.cli.output import (
    JsonFlag,
    LimitOpt,
    OldestFirstOpt,
    PageOpt,
    ProgramOpt,
    emit,
    run_in_session,
    table,
    when,
)
from referly.domain import clicks as service
from referly.domain import programs
from referly.domain.clicks import ClickView

app = typer.Typer(help="List the clicks on referral links.", no_args_is_help=True)


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
    page: PageOpt = 1,
    limit: LimitOpt = 50,
    oldest_first: OldestFirstOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """List a program's clicks, newest first."""

    async def work(session: AsyncSession) -> list[ClickView]:
        found = await programs.get_program(session, program)
        listed = await service.list_clicks(session, found, page, limit, not oldest_first)
        return await service.click_views(session, listed.items)

    views = run_in_session(work, as_json)
    shown = table(
        ["WHEN (UTC)", "PARTNER", "LINK", "LANDING URL", "REFERRER"],
        [
            [
                when(v.click.created_at),
                v.partner_key,
                v.referral_key,
                v.click.landing_url,
                v.click.referrer,
            ]
            for v in views
        ],
    )
    emit({"data": [_click_json(v) for v in views]}, as_json, shown)
