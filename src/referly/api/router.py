"""All `/v1/` routes."""

from fastapi import APIRouter

from referly.api import customers, partners, referral_links
from referly.api.deps import ProgramDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.schemas.common import Envelope
from referly.api.schemas.programs import ProgramOut, program_out

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.get("/test", tags=["meta"], summary="Check the API token")
async def test_token(program: ProgramDep) -> Envelope[ProgramOut]:
    return Envelope[ProgramOut](data=program_out(program))


router.include_router(partners.router)
router.include_router(customers.router)
router.include_router(referral_links.router)
