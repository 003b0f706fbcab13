"""Partner request and response bodies."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from referly.api.schemas.common import TagOut, iso_timestamp, tags_out
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
    email: Email
    id: Identifier | None = None
    key: ReferralKey | None = None
    name: PersonName | None = None
    surname: PersonName | None = None
    password: Password | None = None
    tags: Tags | None = None

    def to_domain(self) -> NewPartner:
        return NewPartner(**self.model_dump())


class PartnerFieldsIn(WireIn):
    email: Email | None = None
    key: ReferralKey | None = None
    name: PersonName | None = None
    surname: PersonName | None = None
    password: Password | None = None
    tags: Tags | None = None


class PartnerUpdateIn(PartnerFieldsIn):
    """Fields at the top level or under `update: {...}`; both are sent by real clients."""

    update: PartnerFieldsIn | None = Field(
        default=None, description="The same fields, nested; they win over top-level ones."
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_update(cls, data: Any) -> Any:
        return unwrap(data, "update")

    def to_domain(self) -> PartnerChanges:
        return PartnerChanges(**self.model_dump(exclude={"update"}))


class PartnerOut(BaseModel):
    id: str
    key: str
    email: str
    name: str | None
    surname: str | None
    status: str
    approved: bool
    tos: bool
    custom_fields: list[Any]
    referrals_count: int
    tags: list[TagOut]
    referral_link: str | None
    referral_links: list[str]
    created_at: str
    updated_at: str


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
