"""`/v1/customers`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api import examples
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


def _partner_by(field: str, alias: str) -> Any:
    """The partner filter on `field` ("key" or "email"), in one spelling."""
    return Query(
        alias=alias,
        max_length=REFERRAL_KEY_MAX if field == "key" else MAX_EMAIL,
        description=f"Only customers credited to the partner with this {field}",
        examples=[getattr(examples.PARTNER, field)],
    )


KeyPath = Annotated[
    str, examples.path("The customer's key, as given when it was created", examples.CUSTOMER_KEY)
]


async def customer_filter(
    dotted_key: Annotated[str | None, _partner_by("key", "partner.key")] = None,
    partner_key: Annotated[str | None, _partner_by("key", "partner_key")] = None,
    bracket_key: Annotated[str | None, _partner_by("key", "partner[key]")] = None,
    dotted_email: Annotated[str | None, _partner_by("email", "partner.email")] = None,
    partner_email: Annotated[str | None, _partner_by("email", "partner_email")] = None,
    bracket_email: Annotated[str | None, _partner_by("email", "partner[email]")] = None,
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


@router.post(
    "/customers",
    status_code=201,
    summary="Create a customer (track a sign-up)",
    responses=examples.answer(201, examples.CUSTOMER_ANSWER, "The customer, created"),
)
async def create_customer(
    body: Annotated[CustomerCreateIn, examples.CREATE_CUSTOMER],
    program: ProgramDep,
    ports: PortsDep,
) -> Envelope[CustomerOut]:
    """Records that a customer signed up, credited to the partner named in `partner` (by
    `key`, `id` or `email`): the sign-up tracking call your server makes, as in Partnero's
    guide. With `options.referral_url`, the link it names decides the partner.

    The same request as Partnero's `POST /v1/customers`, in the flat body or the legacy nested
    one (`{"customer": {...}, "partner": {...}}`). Answers 201 with the customer.

    Errors: 400 `Invalid partner key` when the program has no such partner (or no such
    referral URL); 422 when a field breaks its rule, `Duplicate key` when the program already
    has a customer with this key, and `The email has already been taken.` for its email. A
    customer who signs up through their own partner's link (the partner's own email as key or
    email) is kept and credited to nobody, flagged `self_referral`.

    Send an `Idempotency-Key` to make retries safe."""
    reads, rows = ports
    view = await service.create_customer(reads, rows, program, body.to_domain())
    return Envelope[CustomerOut](data=customer_out(view))


@router.get(
    "/customers",
    summary="List customers, optionally of one partner",
    responses=examples.answer(200, examples.CUSTOMER_PAGE, "A page of customers"),
)
async def list_customers(
    request: Request,
    session: SessionDep,
    program: ProgramDep,
    paging: PageDep,
    by: Annotated[CustomerFilter, Depends(customer_filter)],
) -> ListEnvelope[CustomerOut]:
    """A page of the program's customers, oldest first, in Partnero's list envelope: follow
    `links.next` until it is null to read them all. The partner filter is accepted in each
    spelling Partnero's clients send (`partner.key`, `partner_key`, `partner[key]`, and the
    same for `email`); a partner the program does not have lists nothing."""
    page = await service.list_customers(
        session, program, paging.page, paging.limit, by, newest_first=False
    )
    return list_envelope(request, page, await _many(session, list(page.items)))


@router.get(
    "/customers:search",
    summary="Find customers by key or email",
    responses=examples.answer(
        200, examples.CUSTOMERS_FOUND, "The customers found (an empty list when none)"
    ),
)
async def search_customers(
    session: SessionDep, program: ProgramDep, by: SearchDep
) -> Envelope[list[CustomerOut]]:
    """The customers with this `key` (or `id`, the same thing for a customer) and this
    `email` (compared without case), as Partnero's `GET /v1/customers:search`. Always a list,
    empty when nothing matches; `name` is ignored for customers."""
    if by.id is not None and by.key is not None and by.id != by.key:
        return Envelope[list[CustomerOut]](data=[])
    found = await service.search_customers(session, program, key=by.key or by.id, email=by.email)
    return Envelope[list[CustomerOut]](data=await _many(session, list(found)))


@router.get(
    "/customers/{key:path}",
    summary="Get a customer",
    responses=examples.answer(200, examples.CUSTOMER_ANSWER, "The customer"),
)
async def get_customer(
    key: KeyPath, session: SessionDep, program: ProgramDep
) -> Envelope[CustomerOut]:
    """The customer with this key. 404 `Customer not found` when the program has none (another
    program's customer is not found either). The key may hold any character, `/` included."""
    return await _one(session, await service.get_customer(session, program, key))


@router.put(
    "/customers/{key:path}",
    summary="Update a customer",
    responses=examples.answer(200, examples.CUSTOMER_ANSWER, "The customer, changed"),
)
async def update_customer(
    key: KeyPath,
    body: Annotated[CustomerUpdateIn, examples.UPDATE_CUSTOMER],
    session: SessionDep,
    program: ProgramDep,
) -> Envelope[CustomerOut]:
    """Changes the fields given, under `update` (Partnero's documented form) or at the top
    level (what some of its clients send); a field left out, or null, stays as it is, and
    `tags: []` removes every tag. A new `key` renames the customer. Answers the whole
    customer.

    Errors: 404 when there is no such customer; 422 when a field breaks its rule, or the new
    key or email is another customer's."""
    return await _one(
        session, await service.update_customer(session, program, key, body.to_domain())
    )


@router.post(
    "/customers/{key:path}/suspend",
    summary="Suspend a customer",
    responses=examples.answer(200, examples.DONE, "Suspended"),
)
async def suspend_customer(key: KeyPath, session: SessionDep, program: ProgramDep) -> StatusOnly:
    """Sets the customer's status to `suspended`, as Partnero's: a suspended customer earns
    their partner nothing until approved again. 404 when there is no such customer."""
    await service.set_status(
        session, await service.get_customer(session, program, key), "suspended"
    )
    return StatusOnly()


@router.post(
    "/customers/{key:path}/approve",
    summary="Approve (reactivate) a customer",
    responses=examples.answer(200, examples.DONE, "Approved"),
)
async def approve_customer(key: KeyPath, session: SessionDep, program: ProgramDep) -> StatusOnly:
    """Sets a suspended customer's status back to `active`, as Partnero's. 404 when there is
    no such customer."""
    await service.set_status(session, await service.get_customer(session, program, key), "active")
    return StatusOnly()


@router.delete(
    "/customers/{key:path}",
    summary="Delete a customer and its personal data",
    responses=examples.answer(200, examples.DONE, "Deleted"),
)
async def delete_customer(key: KeyPath, session: SessionDep, program: ProgramDep) -> StatusOnly:
    """Deletes the customer for good, as Partnero's: the row and its personal data, also
    where clicks and stored answers carried it. A later `GET` is a 404; the key and email
    are free again. 404 `Customer not found` when there is no such customer."""
    await service.delete_customer(session, await service.get_customer(session, program, key))
    return StatusOnly()
