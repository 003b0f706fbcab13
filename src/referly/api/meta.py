"""`/v1/test`: check a token, see its program."""

from fastapi import APIRouter

from referly.api import examples
from referly.api.deps import ProgramDep
from referly.api.errors import ERROR_RESPONSES
from referly.api.schemas.common import Envelope
from referly.api.schemas.programs import ProgramOut, program_out

router = APIRouter(prefix="/v1", tags=["meta"], responses=ERROR_RESPONSES)


@router.get(
    "/test",
    summary="Check the API token",
    responses=examples.answer(200, examples.PROGRAM_ANSWER, "The token is good; its program"),
)
async def test_token(program: ProgramDep) -> Envelope[ProgramOut]:
    """Answers the token's program with its tracking settings when the token is good, 401
    when it is missing, unknown or revoked: Partnero's connectivity test (`GET /v1/test`),
    which its clients call to check a key."""
    return Envelope[ProgramOut](data=program_out(program))
