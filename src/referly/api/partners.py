"""`/v1/partners`."""

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.deps import PageDep, ProgramDep, SearchDep, SessionDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.paging import list_envelope
from referly.api.schemas.common import Envelope, ListEnvelope, StatusOnly
from referly.api.schemas.partners import PartnerCreateIn, PartnerOut, PartnerUpdateIn, partner_out
from referly.db.models import Partner, Program
from referly.domain import partners as service
from referly.domain.partners import partner_views

router = APIRouter(prefix="/v1", tags=["partners"], responses=ERROR_RESPONSES)


async def _one(session: AsyncSession, program: Program, partner: Partner) -> Envelope[PartnerOut]:
    [view] = await partner_views(session, [partner])
    return Envelope[PartnerOut](data=partner_out(program, view))


async def _many(session: AsyncSession, program: Program, found: list[Partner]) -> list[PartnerOut]:
    return [partner_out(program, view) for view in await partner_views(session, found)]


@router.post("/partners", status_code=201, summary="Create a partner")
async def create_partner(
    body: PartnerCreateIn, session: SessionDep, program: ProgramDep
) -> Envelope[PartnerOut]:
    partner = await service.create_partner(session, program, body.to_domain())
    return await _one(session, program, partner)


@router.get("/partners", summary="List partners")
async def list_partners(
    request: Request, session: SessionDep, program: ProgramDep, paging: PageDep
) -> ListEnvelope[PartnerOut]:
    page = await service.list_partners(
        session, program, paging.page, paging.limit, newest_first=False
    )
    return list_envelope(request, page, await _many(session, program, list(page.items)))


@router.get("/partners:search", summary="Find partners by id, key, email or name")
async def search_partners(
    session: SessionDep, program: ProgramDep, by: SearchDep
) -> Envelope[list[PartnerOut]]:
    found = await service.search_partners(
        session, program, id=by.id, key=by.key, email=by.email, name=by.name
    )
    return Envelope[list[PartnerOut]](data=await _many(session, program, list(found)))


@router.get("/partners/{id}", summary="Get a partner")
async def get_partner(id: str, session: SessionDep, program: ProgramDep) -> Envelope[PartnerOut]:
    return await _one(session, program, await service.get_partner(session, program, id))


@router.put("/partners/{id}", summary="Update a partner")
async def update_partner(
    id: str, body: PartnerUpdateIn, session: SessionDep, program: ProgramDep
) -> Envelope[PartnerOut]:
    partner = await service.update_partner(session, program, id, body.to_domain())
    return await _one(session, program, partner)


@router.delete("/partners/{id}", summary="Delete a partner")
async def delete_partner(id: str, session: SessionDep, program: ProgramDep) -> StatusOnly:
    await service.delete_partner(session, await service.get_partner(session, program, id))
    return StatusOnly()
