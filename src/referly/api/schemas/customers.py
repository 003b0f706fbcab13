"""Customer request and response bodies."""

from typing import Any

from pydantic import BaseModel, Field, model_validator

from referly.api.schemas.common import (
    PartnerRefIn,
    TagOut,
    iso_timestamp,
    tags_out,
)
from referly.domain.customers import CustomerChanges, CustomerView, NewCustomer
from referly.domain.fields import (
    CustomerKey,
    Email,
    PersonName,
    ReferralUrl,
    Tags,
    WireIn,
    unwrap,
)
from referly.domain.partners import PartnerRef


class CustomerOptionsIn(WireIn):
    referral_url: ReferralUrl | None = None


class LegacyCustomerIn(WireIn):
    """The customer's own fields, as the legacy nested body carries them."""

    key: CustomerKey | None = None
    email: Email | None = None
    name: PersonName | None = None
    surname: PersonName | None = None
    tags: Tags | None = None


class CustomerCreateIn(WireIn):
    """The flat body. The legacy nested body `{"customer": {...}, "partner": {...},
    "options": {...}}` (sent by Partnero's WordPress plugin) is unwrapped into it: `key` may
    then come inside `customer` instead of at the top level."""

    key: CustomerKey
    email: Email | None = None
    name: PersonName | None = None
    surname: PersonName | None = None
    tags: Tags | None = None
    partner: PartnerRefIn | None = None
    options: CustomerOptionsIn | None = None
    customer: LegacyCustomerIn | None = Field(
        default=None, description="Legacy nested body: the customer's fields, unwrapped."
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_legacy_body(cls, data: Any) -> Any:
        return unwrap(data, "customer", nested_wins=False)

    def to_domain(self) -> NewCustomer:
        partner = self.partner or PartnerRefIn()
        return NewCustomer(
            key=self.key,
            email=self.email,
            name=self.name,
            surname=self.surname,
            tags=self.tags or [],
            partner=PartnerRef(key=partner.key, id=partner.id, email=partner.email),
            referral_url=self.options.referral_url if self.options else None,
        )


class CustomerUpdateIn(LegacyCustomerIn):
    """Fields at the top level or under `update: {...}`; both are sent by real clients."""

    update: LegacyCustomerIn | None = Field(
        default=None, description="The same fields, nested; they win over top-level ones."
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_update(cls, data: Any) -> Any:
        return unwrap(data, "update")

    def to_domain(self) -> CustomerChanges:
        return CustomerChanges(**self.model_dump(exclude={"update"}))


class CustomerOut(BaseModel):
    key: str
    partner: str | None
    deleted: bool
    name: str | None
    surname: str | None
    email: str | None
    status: str
    created_at: str
    updated_at: str
    deleted_at: str | None
    tags: list[TagOut]
    # Referly's addition: why the customer is held back from crediting ("self_referral").
    flags: list[str]


def customer_out(view: CustomerView) -> CustomerOut:
    customer = view.customer
    return CustomerOut(
        key=customer.key,
        partner=view.partner_key,
        deleted=False,  # deletes are hard deletes
        name=customer.name,
        surname=customer.surname,
        email=customer.email,
        status=customer.status,
        created_at=iso_timestamp(customer.created_at) or "",
        updated_at=iso_timestamp(customer.updated_at) or "",
        deleted_at=None,
        tags=tags_out(customer.tags),
        flags=[customer.flag] if customer.flag else [],
    )
