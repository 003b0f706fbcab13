"""The program as the API shows it (`GET /v1/test`)."""

from pydantic import ConfigDict, Field

from referly.api.schemas.common import Timestamp, WireOut
from referly.db.models import Program


class ProgramOut(WireOut):
    """The program an API token belongs to, with its tracking settings."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)

    id: str = Field(validation_alias="public_id")
    """The program's public id: the one in the browser snippet, `po('program', ID, 'load')`."""
    name: str
    """The program's name."""
    type: str
    """`affiliate` (partners refer customers) or `referral` (customers refer friends)."""
    website: str | None
    """The program's website: where referral links point."""
    url_params: list[str]
    """The URL query parameters that carry a referral key (`aff` by default)."""
    cookie_lifetime_days: int
    """How long a referral is remembered in the visitor's browser."""
    cookie_domain: str
    """Where the referral cookie is set: `auto` (the site's registrable domain, shared by its
    subdomains), `host` (the page's own host only) or a domain name."""
    attribution: str
    """Which referral wins when a visitor clicked several: `last_click` or `first_click`."""
    allowed_origins: list[str]
    """The web origins the browser script may report from; empty for any."""
    public_signups: bool
    """Referly's addition: whether the browser script may report sign-ups (otherwise only
    your server, through `POST /v1/customers`)."""
    created_at: Timestamp
    """When the program was created (ISO 8601, UTC, microseconds)."""


def program_out(program: Program) -> ProgramOut:
    return ProgramOut.model_validate(program)
