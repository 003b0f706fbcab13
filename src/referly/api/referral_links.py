"""`/v1/partner_referral_links` and `/v1/partners/{id}/referral_links`."""

from typing import Annotated

from fastapi import APIRouter, Request

from referly.api import examples
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
KeyPath = Annotated[str, examples.path("The link's key", examples.LINK_KEY)]


@router.post(
    "/partner_referral_links",
    status_code=201,
    summary="Add a referral link",
    responses=examples.answer(201, examples.LINK_ANSWER, "The link, created"),
)
async def create_referral_link(
    body: Annotated[ReferralLinkCreateIn, examples.CREATE_LINK],
    session: SessionDep,
    program: ProgramDep,
) -> Envelope[ReferralLinkOut]:
    """Gives a partner an extra referral link, as Partnero's `POST /v1/partner_referral_links`:
    visitors who arrive by it, and customers created with its URL as
    `options.referral_url`, are credited to that partner. Answers 201 with the link.

    Errors: 400 `Invalid partner key` when the program has no such partner; 422 when the key
    breaks its rule, or `Duplicate key` when it is any partner's key or link already (keys
    are compared without case).

    Send an `Idempotency-Key` to make retries safe."""
    link = await service.create_referral_link(session, program, body.owner(), body.key)
    return Envelope[ReferralLinkOut](data=referral_link_out(program, link))


@router.get(
    "/partners/{id}/referral_links",
    summary="List a partner's referral links",
    responses=examples.answer(200, examples.LINK_PAGE, "A page of the partner's links"),
)
async def list_referral_links(
    id: Annotated[str, examples.path("The partner's id", examples.PARTNER_ID)],
    request: Request,
    session: SessionDep,
    program: ProgramDep,
    paging: PageDep,
) -> ListEnvelope[ReferralLinkOut]:
    """A page of the partner's links, the default one first, in Partnero's list envelope.
    404 `Partner not found` when the program has no such partner."""
    partner = await get_partner(session, program, id)
    page = await service.list_referral_links(session, partner, paging.page, paging.limit)
    links = [referral_link_out(program, link) for link in page.items]
    return list_envelope(request, page, links)


@router.get(
    "/partner_referral_links/{key}",
    summary="Get a referral link",
    responses=examples.answer(200, examples.LINK_ANSWER, "The link"),
)
async def get_referral_link(
    key: KeyPath, session: SessionDep, program: ProgramDep
) -> Envelope[ReferralLinkOut]:
    """The link with this key (compared without case), default links included, as
    Partnero's (whose link `id` is its key). 404 when the program has no such link."""
    link = await service.get_referral_link(session, program, key)
    return Envelope[ReferralLinkOut](data=referral_link_out(program, link))


@router.delete(
    "/partner_referral_links/{key}",
    summary="Delete an extra referral link",
    responses=examples.answer(200, examples.DONE, "Deleted"),
)
async def delete_referral_link(
    key: KeyPath, session: SessionDep, program: ProgramDep
) -> StatusOnly:
    """Deletes one of a partner's extra links; visitors arriving by it are no longer credited.
    Customers and clicks it credited keep their partner. A partner's default link cannot be
    deleted (422): change the partner's key instead. 404 when there is no such link."""
    await service.delete_referral_link(
        session, await service.get_referral_link(session, program, key)
    )
    return StatusOnly()
