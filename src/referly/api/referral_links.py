"""`/v1/partner_referral_links` and `/v1/partners/{id}/referral_links`."""

from fastapi import APIRouter, Request

from referly.api.deps import PageDep, ProgramDep, SessionDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.paging import list_envelope
from referly.api.schemas.common import Envelope, ListEnvelope, StatusOnly
from referly.api.schemas.referral_links import (
    ReferralLinkCreateIn,
    ReferralLinkOut,
    referral_link_out,
)
from referly.domain import referral_links as service
from referly.domain.partners import get_partner

router = APIRouter(prefix="/v1", tags=["referral links"], responses=ERROR_RESPONSES)


@router.post("/partner_referral_links", status_code=201, summary="Add a referral link")
async def create_referral_link(
    body: ReferralLinkCreateIn, session: SessionDep, program: ProgramDep
) -> Envelope[ReferralLinkOut]:
    link = await service.create_referral_link(session, program, body.owner(), body.key)
    return Envelope[ReferralLinkOut](data=referral_link_out(program, link))


@router.get("/partners/{id}/referral_links", summary="List a partner's referral links")
async def list_referral_links(
    id: str, request: Request, session: SessionDep, program: ProgramDep, paging: PageDep
) -> ListEnvelope[ReferralLinkOut]:
    partner = await get_partner(session, program, id)
    page = await service.list_referral_links(session, partner, paging.page, paging.limit)
    links = [referral_link_out(program, link) for link in page.items]
    return list_envelope(request, page, links)


@router.get("/partner_referral_links/{key}", summary="Get a referral link")
async def get_referral_link(
    key: str, session: SessionDep, program: ProgramDep
) -> Envelope[ReferralLinkOut]:
    link = await service.get_referral_link(session, program, key)
    return Envelope[ReferralLinkOut](data=referral_link_out(program, link))


@router.delete("/partner_referral_links/{key}", summary="Delete an extra referral link")
async def delete_referral_link(key: str, session: SessionDep, program: ProgramDep) -> StatusOnly:
    await service.delete_referral_link(
        session, await service.get_referral_link(session, program, key)
    )
    return StatusOnly()
