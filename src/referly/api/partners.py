"""`/v1/partners`."""

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api import examples
from referly.api.deps import PageDep, ProgramDep, SearchDep, SessionDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.paging import list_envelope
from referly.api.schemas.common import Envelope, ListEnvelope, StatusOnly
from referly.api.schemas.partners import PartnerCreateIn, PartnerOut, PartnerUpdateIn, partner_out
from referly.db.models import Partner, Program
from referly.domain import partners as service
from referly.domain.partners import partner_views

router = APIRouter(prefix="/v1", tags=["partners"], responses=ERROR_RESPONSES)
IdPath = Annotated[str, examples.path("The partner's id", examples.PARTNER_ID)]


async def _one(session: AsyncSession, program: Program, partner: Partner) -> Envelope[PartnerOut]:
    [view] = await partner_views(session, [partner])
    return Envelope[PartnerOut](data=partner_out(program, view))


async def _many(session: AsyncSession, program: Program, found: list[Partner]) -> list[PartnerOut]:
    return [partner_out(program, view) for view in await partner_views(session, found)]


@router.post(
    "/partners",
    status_code=201,
    summary="Create a partner",
    responses=examples.answer(201, examples.PARTNER_ANSWER, "The partner, created"),
)
async def create_partner(
    body: Annotated[PartnerCreateIn, examples.CREATE_PARTNER],
    session: SessionDep,
    program: ProgramDep,
) -> Envelope[PartnerOut]:
    """Adds a partner to the program, with a default referral link carrying their key, as
    Partnero's `POST /v1/partners`. The `id` and `key` are made up when not given (a key is
    12 lowercase letters and digits). Answers 201 with the partner.

    Errors: 422 when a field breaks its rule (a password needs 8 characters with a lowercase
    letter, an uppercase letter and a digit), `Duplicate key` when the key is another
    partner's or link's, and `The email has already been taken.` for the email (or the id).

    Send an `Idempotency-Key` to make retries safe."""
    partner = await service.create_partner(session, program, body.to_domain())
    return await _one(session, program, partner)


@router.get(
    "/partners",
    summary="List partners",
    responses=examples.answer(200, examples.PARTNER_PAGE, "A page of partners"),
)
async def list_partners(
    request: Request, session: SessionDep, program: ProgramDep, paging: PageDep
) -> ListEnvelope[PartnerOut]:
    """A page of the program's partners, oldest first, in Partnero's list envelope: follow
    `links.next` until it is null to read them all."""
    page = await service.list_partners(
        session, program, paging.page, paging.limit, newest_first=False
    )
    return list_envelope(request, page, await _many(session, program, list(page.items)))


@router.get(
    "/partners:search",
    summary="Find partners by id, key, email or name",
    responses=examples.answer(
        200, examples.PARTNERS_FOUND, "The partners found (an empty list when none)"
    ),
)
async def search_partners(
    session: SessionDep, program: ProgramDep, by: SearchDep
) -> Envelope[list[PartnerOut]]:
    """The partners matching every criterion given, as Partnero's `GET /v1/partners:search`:
    `key` and `email` compared without case, `name` (the first name) too. Always a list,
    empty when nothing matches."""
    found = await service.search_partners(
        session, program, id=by.id, key=by.key, email=by.email, name=by.name
    )
    return Envelope[list[PartnerOut]](data=await _many(session, program, list(found)))


@router.get(
    "/partners/{id}",
    summary="Get a partner",
    responses=examples.answer(200, examples.PARTNER_ANSWER, "The partner"),
)
async def get_partner(id: IdPath, session: SessionDep, program: ProgramDep) -> Envelope[PartnerOut]:
    """The partner with this id, as Partnero's (which looks partners up by id here; use
    `GET /v1/partners:search?key=...` for a referral key). 404 `Partner not found` when the
    program has none."""
    return await _one(session, program, await service.get_partner(session, program, id))


@router.put(
    "/partners/{id}",
    summary="Update a partner",
    responses=examples.answer(200, examples.PARTNER_ANSWER, "The partner, changed"),
)
async def update_partner(
    id: IdPath,
    body: Annotated[PartnerUpdateIn, examples.UPDATE_PARTNER],
    session: SessionDep,
    program: ProgramDep,
) -> Envelope[PartnerOut]:
    """Changes the fields given, under `update` (Partnero's documented form) or at the top
    level (what some of its clients send); a field left out, or null, stays as it is. A new
    `key` moves the partner's default link to it. Answers the whole partner.

    Errors: 404 when there is no such partner; 422 when a field breaks its rule, or the new
    key or email is taken."""
    partner = await service.update_partner(session, program, id, body.to_domain())
    return await _one(session, program, partner)


@router.delete(
    "/partners/{id}",
    summary="Delete a partner",
    responses=examples.answer(200, examples.DONE, "Deleted"),
)
async def delete_partner(id: IdPath, session: SessionDep, program: ProgramDep) -> StatusOnly:
    """Deletes the partner and their referral links, as Partnero's. Their customers stay,
    credited to nobody from now on. 404 `Partner not found` when there is no such partner."""
    await service.delete_partner(session, await service.get_partner(session, program, id))
    return StatusOnly()
