"""`/v1/test`: check a token, see its program."""

from fastapi import APIRouter

from referly.api.deps import ProgramDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.schemas.common import Envelope
from referly.api.schemas.programs import ProgramOut, program_out

router = APIRouter(prefix="/v1", tags=["meta"], responses=ERROR_RESPONSES)


@router.get("/test", summary="Check the API token")
async def test_token(program: ProgramDep) -> Envelope[ProgramOut]:
    return Envelope[ProgramOut](data=program_out(program))
