"""`referly customers ...`"""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.customers import CustomerOut, customer_out
from referly.cli.output import JsonFlag, emit, run_in_session
from referly.domain import customers as service
from referly.domain import programs
from referly.domain.customers import CustomerFilter
from referly.domain.pagination import MAX_LIMIT

app = typer.Typer(help="List customers.", no_args_is_help=True)
ProgramOpt = Annotated[str, typer.Option("--program", help="The program's public id.")]


@app.command("list")
def list_(
    program: ProgramOpt,
    partner: Annotated[
        str | None, typer.Option("--partner", help="Only this partner's customers (its key).")
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List a program's customers, newest last."""

    async def work(session: AsyncSession) -> list[CustomerOut]:
        found = await programs.get_program(session, program)
        listed = await service.list_customers(
            session, found, page, limit, CustomerFilter(partner_key=partner)
        )
        views = await service.customer_views(session, listed.items)
        return [customer_out(view) for view in views]

    rows = run_in_session(work, as_json)
    lines = [f"{c.key}\t{c.email or ''}\t{c.partner or ''}\t{c.status}" for c in rows]
    emit({"data": [c.model_dump() for c in rows]}, as_json, "\n".join(lines))
