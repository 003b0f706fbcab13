"""The program as the API shows it (`GET /v1/test`)."""

from pydantic import BaseModel, ConfigDict, Field

from referly.api.schemas.common import Timestamp
from referly.db.models import Program


class ProgramOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(validation_alias="public_id")
    name: str
    type: str
    website: str | None
    url_params: list[str]
    cookie_lifetime_days: int
    cookie_domain: str
    attribution: str
    allowed_origins: list[str]
    # Referly's addition: whether the browser script may report sign-ups.
    public_signups: bool
    created_at: Timestamp


def program_out(program: Program) -> ProgramOut:
    return ProgramOut.model_validate(program)
