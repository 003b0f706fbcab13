"""`/v1/customers`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.deps import PageDep, PortsDep, ProgramDep, SearchDep, SessionDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.paging import list_envelope
from referly.api.schemas.common import Envelope, ListEnvelope, StatusOnly
from referly.api.schemas.customers import (
    CustomerCreateIn,
    CustomerOut,
    CustomerUpdateIn,
    customer_out,
)
from referly.db.models import Customer
from referly.domain import customers as service
from referly.domain.customers import CustomerFilter, customer_views
from referly.domain.fields import MAX_EMAIL, REFERRAL_KEY_MAX

router = APIRouter(prefix="/v1", tags=["customers"], responses=ERROR_RESPONSES)

KEY_HELP = "Only customers of the partner with this key"
EMAIL_HELP = "Only customers of the partner with this email"


async def customer_filter(
    dotted_key: Annotated[
        str | None,
        Query(alias="partner.key", max_length=REFERRAL_KEY_MAX, description=KEY_HELP),
    ] = None,
    partner_key: Annotated[
        str | None, Query(max_length=REFERRAL_KEY_MAX, description=KEY_HELP)
    ] = None,
    bracket_key: Annotated[
        str | None,
        Query(alias="partner[key]", max_length=REFERRAL_KEY_MAX, description=KEY_HELP),
    ] = None,
    dotted_email: Annotated[
        str | None, Query(alias="partner.email", max_length=MAX_EMAIL, description=EMAIL_HELP)
    ] = None,
    partner_email: Annotated[
        str | None, Query(max_length=MAX_EMAIL, description=EMAIL_HELP)
    ] = None,
    bracket_email: Annotated[
        str | None, Query(alias="partner[email]", max_length=MAX_EMAIL, description=EMAIL_HELP)
    ] = None,
) -> CustomerFilter:
    """The partner filter in each spelling real clients send."""
    return CustomerFilter(
        partner_key=dotted_key or partner_key or bracket_key,
        partner_email=dotted_email or partner_email or bracket_email,
    )


async def _one(session: AsyncSession, customer: Customer) -> Envelope[CustomerOut]:
    [view] = await customer_views(session, [customer])
    return Envelope[CustomerOut](data=customer_out(view))


async def _many(session: AsyncSession, found: list[Customer]) -> list[CustomerOut]:
    return [customer_out(view) for view in await customer_views(session, found)]


@router.post("/customers", status_code=201, summary="Create a customer")
async def create_customer(
    body: CustomerCreateIn, program: ProgramDep, ports: PortsDep
) -> Envelope[CustomerOut]:
    reads, rows = ports
    view = await service.create_customer(reads, rows, program, body.to_domain())
    return Envelope[CustomerOut](data=customer_out(view))


@router.get("/customers", summary="List customers, optionally of one partner")
async def list_customers(
    request: Request,
    session: SessionDep,
    program: ProgramDep,
    paging: PageDep,
    by: Annotated[CustomerFilter, Depends(customer_filter)],
) -> ListEnvelope[CustomerOut]:
    page = await service.list_customers(
        session, program, paging.page, paging.limit, by, newest_first=False
    )
    return list_envelope(request, page, await _many(session, list(page.items)))


@router.get("/customers:search", summary="Find customers by key or email")
async def search_customers(
    session: SessionDep, program: ProgramDep, by: SearchDep
) -> Envelope[list[CustomerOut]]:
    """`id` is the same as `key` for a customer."""
    if by.id is not None and by.key is not None and by.id != by.key:
        return Envelope[list[CustomerOut]](data=[])
    found = await service.search_customers(session, program, key=by.key or by.id, email=by.email)
    return Envelope[list[CustomerOut]](data=await _many(session, list(found)))


@router.get("/customers/{key:path}", summary="Get a customer")
async def get_customer(key: str, session: SessionDep, program: ProgramDep) -> Envelope[CustomerOut]:
    return await _one(session, await service.get_customer(session, program, key))


@router.put("/customers/{key:path}", summary="Update a customer")
async def update_customer(
    key: str, body: CustomerUpdateIn, session: SessionDep, program: ProgramDep
) -> Envelope[CustomerOut]:
    return await _one(
        session, await service.update_customer(session, program, key, body.to_domain())
    )


@router.post("/customers/{key:path}/suspend", summary="Suspend a customer")
async def suspend_customer(key: str, session: SessionDep, program: ProgramDep) -> StatusOnly:
    await service.set_status(
        session, await service.get_customer(session, program, key), "suspended"
    )
    return StatusOnly()


@router.post("/customers/{key:path}/approve", summary="Approve (reactivate) a customer")
async def approve_customer(key: str, session: SessionDep, program: ProgramDep) -> StatusOnly:
    await service.set_status(session, await service.get_customer(session, program, key), "active")
    return StatusOnly()


@router.delete("/customers/{key:path}", summary="Delete a customer and its personal data")
async def delete_customer(key: str, session: SessionDep, program: ProgramDep) -> StatusOnly:
    await service.delete_customer(session, await service.get_customer(session, program, key))
    return StatusOnly()
