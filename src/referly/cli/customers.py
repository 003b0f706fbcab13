"""`referly customers ...`"""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.customers import customer_out
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
from referly.domain import customers as service
from referly.domain import partners, programs
from referly.domain.customers import CustomerFilter, CustomerView
from referly.domain.partners import PartnerRef
from referly.errors import InvalidPartnerKey, NotFound

app = typer.Typer(help="List and erase customers.", no_args_is_help=True)


@app.command("list")
def list_(
    program: ProgramOpt,
    partner: Annotated[
        str | None,
        typer.Option("--partner", metavar="KEY", help="Only this partner's customers."),
    ] = None,
    page: PageOpt = 1,
    limit: LimitOpt = 50,
    oldest_first: OldestFirstOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """List a program's customers, newest first, with whom each is credited to."""

    async def work(session: AsyncSession) -> list[CustomerView]:
        found = await programs.get_program(session, program)
        if partner is not None:  # an unknown partner is an error, not an empty list
            try:
                await partners.find_partner(session, found, PartnerRef(key=partner))
            except InvalidPartnerKey as error:
                raise NotFound(f"No partner with key {partner} in program {program}") from error
        listed = await service.list_customers(
            session, found, page, limit, CustomerFilter(partner_key=partner), not oldest_first
        )
        return await service.customer_views(session, listed.items)

    views = run_in_session(work, as_json)
    shown = table(
        ["KEY", "EMAIL", "NAME", "PARTNER", "SOURCE", "STATUS", "SIGNED UP (UTC)", "FLAG"],
        [
            [
                v.customer.key,
                v.customer.email,
                " ".join(filter(None, (v.customer.name, v.customer.surname))),
                v.partner_key,
                v.customer.source,
                v.customer.status,
                when(v.customer.created_at),
                v.customer.flag,
            ]
            for v in views
        ],
    )
    emit({"data": [customer_out(v).model_dump() for v in views]}, as_json, shown)


@app.command("delete")
def delete(
    program: ProgramOpt,
    key: Annotated[str, typer.Argument(help="The customer's key.")],
    escaped: Annotated[
        bool,
        typer.Option(
            "--escaped",
            help="The key is written with escapes (\\x1b), as `customers list` shows a key "
            "holding control characters.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Erase a customer and every trace of their personal data."""
    customer_key = _unescaped(key) if escaped else key

    async def work(session: AsyncSession) -> None:
        found = await programs.get_program(session, program)
        customer = await service.get_customer(session, found, customer_key)
        await service.delete_customer(session, customer)

    run_in_session(work, as_json)
    emit({"deleted": True, "key": customer_key}, as_json, f"erased customer {key}")


def _unescaped(key: str) -> str:
    """`\\x1b` and the like back to the characters they stand for."""
    return key.encode("latin-1", "backslashreplace").decode("unicode_escape")
