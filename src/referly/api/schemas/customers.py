"""Customer request and response bodies."""

from typing import Any

from pydantic import ConfigDict, model_validator

from referly.api.schemas.common import (
    PartnerRefIn,
    TagOut,
    WireOut,
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
    document_plain_text,
    unwrap,
)
from referly.domain.partners import PartnerRef


class CustomerOptionsIn(WireIn):
    """Extra details of a sign-up."""

    referral_url: ReferralUrl | None = None
    """For a partner with several links: the referral URL the visitor arrived by, so the
    sign-up is credited to that link's partner. It must be a link of the program."""


class LegacyCustomerIn(WireIn):
    """The customer's own fields, as the legacy nested body carries them."""

    key: CustomerKey | None = None
    """Your id for the customer (an account id or the email address); unique in the
    program."""
    email: Email | None = None
    """The customer's email address; unique in the program."""
    name: PersonName | None = None
    """First name."""
    surname: PersonName | None = None
    """Last name."""
    tags: Tags | None = None
    """Labels of your own, as strings; answered as `[{"value": ...}]`."""


def _key_here_or_nested(schema: dict[str, Any]) -> None:
    """`key` is required at the top level or inside the legacy `customer` object."""
    document_plain_text(schema)
    schema.pop("required", None)
    schema["anyOf"] = [
        {"required": ["key"]},
        {"required": ["customer"], "properties": {"customer": {"required": ["key"]}}},
    ]


class CustomerCreateIn(WireIn):
    """The flat body. The legacy nested body `{"customer": {...}, "partner": {...},
    "options": {...}}` (sent by Partnero's WordPress plugin) is unwrapped into it: `key` may
    then come inside `customer` instead of at the top level."""

    key: CustomerKey
    """Your id for the customer (an account id or the email address); unique in the program.
    Transactions name the customer by it."""
    email: Email | None = None
    """The customer's email address; unique in the program."""
    name: PersonName | None = None
    """First name."""
    surname: PersonName | None = None
    """Last name."""
    tags: Tags | None = None
    """Labels of your own, as strings; answered as `[{"value": ...}]`."""
    partner: PartnerRefIn | None = None
    """The partner who referred the customer. An affiliate program requires one."""
    options: CustomerOptionsIn | None = None
    """Extra details of the sign-up."""
    customer: LegacyCustomerIn | None = None
    """The legacy nested body: the customer's fields under `customer`, as Partnero's
    WordPress plugin sends them. Top-level fields win."""

    model_config = ConfigDict(json_schema_extra=_key_here_or_nested)

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

    update: LegacyCustomerIn | None = None
    """The same fields, nested (Partnero's documented form); they win over top-level ones."""

    @model_validator(mode="before")
    @classmethod
    def _unwrap_update(cls, data: Any) -> Any:
        return unwrap(data, "update")

    def to_domain(self) -> CustomerChanges:
        return CustomerChanges(**self.model_dump(exclude={"update"}))


class CustomerOut(WireOut):
    """A customer: someone who signed up through a partner's referral."""

    key: str
    """Your id for the customer."""
    partner: str | None
    """The referral key of the partner credited with the customer; null when none is."""
    deleted: bool
    """Always false: a deleted customer is gone, with its personal data."""
    name: str | None
    """First name."""
    surname: str | None
    """Last name."""
    email: str | None
    """Email address."""
    status: str
    """`active`, or `suspended` (earns its partner nothing while suspended)."""
    created_at: str
    """When the customer was created (ISO 8601, UTC, microseconds)."""
    updated_at: str
    """When the customer last changed."""
    deleted_at: str | None
    """Always null (see `deleted`)."""
    tags: list[TagOut]
    """Your labels."""
    flags: list[str]
    """Referly's addition: why nobody is credited with the customer. `self_referral`: the
    customer's key or email is the referring partner's own email, so the sign-up is kept and
    credited to nobody. Empty otherwise."""


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
