"""The program as the API shows it (`GET /v1/test`)."""

from pydantic import BaseModel

from referly.api.schemas.common import iso_timestamp
from referly.db.models import Program


class ProgramOut(BaseModel):
    id: str
    name: str
    type: str
    website: str | None
    url_params: list[str]
    cookie_lifetime_days: int
    cookie_domain: str
    attribution: str
    allowed_origins: list[str]
    created_at: str


def program_out(program: Program) -> ProgramOut:
    return ProgramOut(
        id=program.public_id,
        name=program.name,
        type=program.type,
        website=program.website,
        url_params=program.url_params,
        cookie_lifetime_days=program.cookie_lifetime_days,
        cookie_domain=program.cookie_domain,
        attribution=program.attribution,
        allowed_origins=program.allowed_origins,
        created_at=iso_timestamp(program.created_at) or "",
    )
