"""Customers: who signed up, and which partner (and link, and click) gets the credit."""

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Customer, Partner, Program, ReferralLink
from referly.domain.keys import normalize_email, referral_key_from_url
from referly.domain.partners import PartnerRef, find_partner
from referly.domain.referral_links import resolve_referral_key
from referly.errors import DuplicateKey, InvalidPartnerKey, ValidationFailed

SOURCES = ("api", "js", "universal")


@dataclass
class NewCustomer:
    key: str
    email: str | None = None
    name: str | None = None
    surname: str | None = None
    tags: list[str] = field(default_factory=list)
    partner: PartnerRef = field(default_factory=PartnerRef)
    referral_url: str | None = None  # options.referral_url: which of the partner's links
    source: str = "api"
    click_id: int | None = None


@dataclass(frozen=True)
class Attribution:
    partner: Partner | None
    link: ReferralLink | None


async def attribute(session: AsyncSession, program: Program, new: NewCustomer) -> Attribution:
    """Which partner and link a new customer is credited to.

    `partner.key` may be the partner's own key or one of its extra link keys (the cookie holds
    whichever key the visitor landed with); else `partner.id`, else `partner.email`."""
    if not new.partner.given:
        if program.type == "affiliate":
            raise ValidationFailed.field("partner", "The partner field is required.")
        return Attribution(None, None)
    partner, link = await _partner_and_link(session, program, new.partner)
    if new.referral_url:
        link = await _link_of_referral_url(session, program, partner, new.referral_url)
    return Attribution(partner, link)


async def _partner_and_link(
    session: AsyncSession, program: Program, ref: PartnerRef
) -> tuple[Partner, ReferralLink | None]:
    if ref.key:
        found = await resolve_referral_key(session, program, ref.key)
        if found is None:
            raise InvalidPartnerKey()
        return found
    partner = await find_partner(session, program, ref)
    return partner, await _default_link(session, partner)


async def _default_link(session: AsyncSession, partner: Partner) -> ReferralLink | None:
    statement = select(ReferralLink).where(
        ReferralLink.partner_id == partner.id, ReferralLink.is_default.is_(True)
    )
    return await session.scalar(statement)


async def _link_of_referral_url(
    session: AsyncSession, program: Program, partner: Partner, url: str
) -> ReferralLink:
    problem = ValidationFailed.field(
        "options.referral_url", "The referral URL is not one of the partner's links."
    )
    key = referral_key_from_url(url, program.url_params)
    found = await resolve_referral_key(session, program, key) if key else None
    if found is None or found[0].id != partner.id:
        raise problem
    return found[1]


async def create_customer(session: AsyncSession, program: Program, new: NewCustomer) -> Customer:
    """A new customer, attributed. Duplicate key or email → `Duplicate key` (422)."""
    credit = await attribute(session, program, new)
    await _ensure_unique(session, program, new.key, new.email)
    customer = Customer(
        program_id=program.id,
        key=new.key,
        email=new.email,
        email_ci=normalize_email(new.email) if new.email else None,
        name=new.name,
        surname=new.surname,
        tags=new.tags,
        partner_id=credit.partner.id if credit.partner else None,
        referral_link_id=credit.link.id if credit.link else None,
        click_id=new.click_id,
        source=new.source,
    )
    session.add(customer)
    try:
        await session.flush()
    except IntegrityError as error:  # lost a race with an identical request
        raise DuplicateKey() from error
    return customer


async def _ensure_unique(
    session: AsyncSession, program: Program, key: str, email: str | None
) -> None:
    errors: dict[str, list[str]] = {}
    same_program = select(Customer.id).where(Customer.program_id == program.id)
    if await session.scalar(same_program.where(Customer.key == key)) is not None:
        errors["key"] = ["The key has already been taken."]
    if email and await session.scalar(
        same_program.where(Customer.email_ci == normalize_email(email))
    ):
        errors["email"] = ["The email has already been taken."]
    if errors:
        raise DuplicateKey(errors=errors)
