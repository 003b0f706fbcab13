"""The examples in the API docs, made by the code that makes real answers: request bodies are
checked by the request models when this module loads, and answers are built from example rows
by the same functions that build every answer. So an example cannot show a field, a format or
a value the API would not send or accept."""

from datetime import UTC, datetime
from typing import Any

from fastapi import Body, Path
from fastapi.openapi.models import Example
from pydantic import BaseModel

from referly.api.schemas.common import Envelope, ListEnvelope, PageLinks, PageMeta, StatusOnly
from referly.api.schemas.customers import (
    CustomerCreateIn,
    CustomerOut,
    CustomerUpdateIn,
    customer_out,
)
from referly.api.schemas.partners import (
    PartnerCreateIn,
    PartnerOut,
    PartnerUpdateIn,
    partner_out,
)
from referly.api.schemas.programs import ProgramOut, program_out
from referly.api.schemas.referral_links import (
    ReferralLinkCreateIn,
    ReferralLinkOut,
    referral_link_out,
)
from referly.db.models import Customer, Partner, Program, ReferralLink
from referly.domain.customers import CustomerView
from referly.domain.partners import PartnerView

JSON = "application/json"
SIGNED_UP = datetime(2026, 5, 2, 16, 12, 39, tzinfo=UTC)
BASE_URL = "https://referly.example.com/v1"

# The example rows.
PROGRAM = Program(
    public_id="K7M2Q9XD",
    name="Acme Analytics partners",
    type="affiliate",
    website="https://acme.example",
    url_params=["aff"],
    cookie_lifetime_days=30,
    cookie_domain="auto",
    attribution="last_click",
    allowed_origins=["https://acme.example"],
    public_signups=True,
    created_at=SIGNED_UP,
)
PARTNER = Partner(
    public_id="ptr_alice",
    key="alice",
    email="alice.brown@example.com",
    name="Alice",
    surname="Brown",
    status="active",
    tags=["blogger"],
    created_at=SIGNED_UP,
    updated_at=SIGNED_UP,
)
CUSTOMER = Customer(
    key="cus_1042",
    email="jordan.lee@example.com",
    name="Jordan",
    surname="Lee",
    tags=["trial"],
    status="active",
    created_at=SIGNED_UP,
    updated_at=SIGNED_UP,
    flag=None,
)
EXTRA_LINK = ReferralLink(key="alice-youtube", is_default=False)

# Values of path parameters.
CUSTOMER_KEY = CUSTOMER.key
PARTNER_ID = PARTNER.public_id
LINK_KEY = EXTRA_LINK.key


def requests(model: type[BaseModel], **bodies: tuple[str, dict[str, Any]]) -> Any:
    """A request body's named examples, `name=(summary, body)`; each is checked by `model`."""
    for _, body in bodies.values():
        model.model_validate(body)
    named: dict[str, Example] = {
        name: {"summary": summary, "value": body} for name, (summary, body) in bodies.items()
    }
    return Body(openapi_examples=named)


def answer(status: int, example: BaseModel, description: str) -> dict[int | str, dict[str, Any]]:
    """A route's success answer, described with an example, for its `responses=`."""
    value = example.model_dump(mode="json", by_alias=True)
    return {status: {"description": description, "content": {JSON: {"example": value}}}}


def path(description: str, example: str) -> Any:
    return Path(description=description, examples=[example])


def _page(items: list[Any], path: str) -> dict[str, Any]:
    url = f"{BASE_URL}/{path}"
    return {
        "data": items,
        "links": PageLinks(first=f"{url}?page=1", last=f"{url}?page=1", prev=None, next=None),
        "meta": PageMeta(
            current_page=1,
            from_=1,
            last_page=1,
            path=url,
            per_page=15,
            to=len(items),
            total=len(items),
        ),
    }


# Answers.
DONE = StatusOnly()
PROGRAM_ANSWER = Envelope[ProgramOut](data=program_out(PROGRAM))
_customer = customer_out(CustomerView(CUSTOMER, PARTNER.key))
CUSTOMER_ANSWER = Envelope[CustomerOut](data=_customer)
CUSTOMERS_FOUND = Envelope[list[CustomerOut]](data=[_customer])
CUSTOMER_PAGE = ListEnvelope[CustomerOut](**_page([_customer], "customers"))
_partner = partner_out(PROGRAM, PartnerView(PARTNER, [PARTNER.key, EXTRA_LINK.key], 1))
PARTNER_ANSWER = Envelope[PartnerOut](data=_partner)
PARTNERS_FOUND = Envelope[list[PartnerOut]](data=[_partner])
PARTNER_PAGE = ListEnvelope[PartnerOut](**_page([_partner], "partners"))
_link = referral_link_out(PROGRAM, EXTRA_LINK)
_default_link = referral_link_out(PROGRAM, ReferralLink(key=PARTNER.key, is_default=True))
LINK_ANSWER = Envelope[ReferralLinkOut](data=_link)
LINK_PAGE = ListEnvelope[ReferralLinkOut](
    **_page([_default_link, _link], f"partners/{PARTNER_ID}/referral_links")
)

# Request bodies.
CREATE_CUSTOMER = requests(
    CustomerCreateIn,
    seed=(
        "A sign-up referred by a partner (the sign-up tracking guide's request)",
        {
            "partner": {"key": "UNIQUE_PARTNER_KEY"},
            "key": "CUSTOMER_KEY",
            "email": "customer@partnero.com",
            "name": "Partnero",
        },
    ),
    full=(
        "Every field, the partner named by email",
        {
            "key": CUSTOMER.key,
            "email": CUSTOMER.email,
            "name": CUSTOMER.name,
            "surname": CUSTOMER.surname,
            "tags": CUSTOMER.tags,
            "partner": {"email": PARTNER.email},
        },
    ),
    multi_link=(
        "Credited through one of the partner's extra links",
        {
            "key": CUSTOMER.key,
            "partner": {"key": PARTNER.key},
            "options": {"referral_url": _link.url},
        },
    ),
    legacy=(
        "The legacy nested body (Partnero's WordPress plugin)",
        {
            "partner": {"key": PARTNER.key},
            "customer": {"key": CUSTOMER.key, "email": CUSTOMER.email, "name": CUSTOMER.name},
        },
    ),
)
UPDATE_CUSTOMER = requests(
    CustomerUpdateIn,
    nested=("Partnero's documented form", {"update": {"surname": "Lee-Smith", "tags": []}}),
    flat=("Fields at the top level", {"email": "jordan@example.org"}),
)
CREATE_PARTNER = requests(
    PartnerCreateIn,
    minimal=("Only the email: the id and key are made up", {"email": PARTNER.email}),
    full=(
        "Your own id and referral key",
        {
            "email": PARTNER.email,
            "id": PARTNER.public_id,
            "key": PARTNER.key,
            "name": PARTNER.name,
            "surname": PARTNER.surname,
            "tags": PARTNER.tags,
        },
    ),
)
UPDATE_PARTNER = requests(
    PartnerUpdateIn,
    nested=("Partnero's documented form", {"update": {"name": "Alicia", "tags": ["vip"]}}),
    flat=("Fields at the top level", {"surname": "Brown-Smith"}),
)
CREATE_LINK = requests(
    ReferralLinkCreateIn,
    by_id=(
        "An extra link for a partner named by id",
        {"partner": {"id": PARTNER_ID}, "key": LINK_KEY},
    ),
    by_key=(
        "The partner named by their referral key",
        {"partner": {"key": PARTNER.key}, "key": "alice-newsletter"},
    ),
)
