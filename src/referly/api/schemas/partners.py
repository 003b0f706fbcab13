"""Partner request and response bodies."""

from typing import Annotated, Any

from pydantic import AfterValidator, model_validator

from referly.api.schemas.common import TagOut, WireOut, iso_timestamp, tags_out
from referly.db.models import Program
from referly.domain.fields import (
    Email,
    Identifier,
    PersonName,
    PlainText,
    ReferralKey,
    Tags,
    WireIn,
    unwrap,
)
from referly.domain.links import link_url
from referly.domain.partners import NewPartner, PartnerChanges, PartnerView
from referly.domain.passwords import PASSWORD_RULE, is_strong_password


def check_password(value: str) -> str:
    if not is_strong_password(value):
        raise ValueError(PASSWORD_RULE)
    return value


Password = Annotated[str, PlainText, AfterValidator(check_password)]


class PartnerCreateIn(WireIn):
    """A new partner of the program."""

    email: Email
    """The partner's email address; unique in the program."""
    id: Identifier | None = None
    """Your id for the partner; unique in the program. Made up when not given."""
    key: ReferralKey | None = None
    """The partner's referral key, the value their links carry (`?aff=KEY`): letters, digits,
    `-`, `_` and `.`, compared without case; unique in the program. Made up when not given."""
    name: PersonName | None = None
    """First name."""
    surname: PersonName | None = None
    """Last name."""
    password: Password | None = None
    """A password for the partner portal. Optional: without one, the partner sets it on
    first sign-in."""
    tags: Tags | None = None
    """Labels of your own, as strings; answered as `[{"value": ...}]`."""

    def to_domain(self) -> NewPartner:
        return NewPartner(**self.model_dump())


class PartnerFieldsIn(WireIn):
    """A partner's changeable fields; a field not given is left as it is."""

    email: Email | None = None
    """A new email address; unique in the program."""
    key: ReferralKey | None = None
    """A new referral key. The old key's links stop crediting the partner."""
    name: PersonName | None = None
    """First name."""
    surname: PersonName | None = None
    """Last name."""
    password: Password | None = None
    """A new portal password."""
    tags: Tags | None = None
    """The partner's tags, replacing the old ones; `[]` removes them all."""


class PartnerUpdateIn(PartnerFieldsIn):
    """Fields at the top level or under `update: {...}`; both are sent by real clients."""

    update: PartnerFieldsIn | None = None
    """The same fields, nested (Partnero's documented form); they win over top-level ones."""

    @model_validator(mode="before")
    @classmethod
    def _unwrap_update(cls, data: Any) -> Any:
        return unwrap(data, "update")

    def to_domain(self) -> PartnerChanges:
        return PartnerChanges(**self.model_dump(exclude={"update"}))


class PartnerOut(WireOut):
    """A partner: someone who refers customers and earns on them."""

    id: str
    """The partner's id: yours, or the one Referly made up."""
    key: str
    """The partner's referral key, the value their default link carries."""
    email: str
    """Email address."""
    name: str | None
    """First name."""
    surname: str | None
    """Last name."""
    status: str
    """`active`."""
    approved: bool
    """Whether the partner is approved (true while active)."""
    tos: bool
    """Whether the partner accepted the program's terms in the portal; always false here."""
    custom_fields: list[Any]
    """Partnero's custom fields; always empty here."""
    referrals_count: int
    """How many customers are credited to the partner."""
    tags: list[TagOut]
    """Your labels."""
    referral_link: str | None
    """The partner's default referral link, on the program's website."""
    referral_links: list[str]
    """All of the partner's referral links, the default first."""
    created_at: str
    """When the partner was created (ISO 8601, UTC, microseconds)."""
    updated_at: str
    """When the partner last changed."""


def partner_out(program: Program, view: PartnerView) -> PartnerOut:
    partner = view.partner
    urls = [link_url(program, key) for key in view.link_keys]
    return PartnerOut(
        id=partner.public_id,
        key=partner.key,
        email=partner.email,
        name=partner.name,
        surname=partner.surname,
        status=partner.status,
        approved=partner.status == "active",
        tos=False,
        custom_fields=[],
        referrals_count=view.referrals_count,
        tags=tags_out(partner.tags),
        referral_link=urls[0] if urls else None,
        referral_links=urls,
        created_at=iso_timestamp(partner.created_at) or "",
        updated_at=iso_timestamp(partner.updated_at) or "",
    )
