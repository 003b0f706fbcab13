"""Customers: who signed up, and which partner (and link, and click) gets the credit."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Customer, Partner, Program, ReferralLink
from referly.db.types import utcnow
from referly.domain import privacy
from referly.domain.keys import normalize_email, normalize_key, referral_key_from_url
from referly.domain.pagination import Page, paginate
from referly.domain.partners import PartnerRef, find_partner
from referly.domain.referral_links import default_link, resolve_referral_key
from referly.errors import DuplicateKey, InvalidPartnerKey, NotFound, ValidationFailed

SOURCES = ("api", "js", "universal")
STATUSES = ("active", "suspended")
SELF_REFERRAL = "self_referral"


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


@dataclass
class CustomerChanges:
    """Fields to change; None leaves a field as it is."""

    key: str | None = None
    email: str | None = None
    name: str | None = None
    surname: str | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class CustomerFilter:
    """List filters; a partner that does not exist simply matches no customer."""

    partner_key: str | None = None
    partner_email: str | None = None


@dataclass(frozen=True)
class CustomerView:
    """A customer with the key of the partner it is credited to."""

    customer: Customer
    partner_key: str | None


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
        if new.referral_url:
            # A referral URL only picks among a named partner's links.
            raise ValidationFailed.field(
                "partner", "The partner field is required with options.referral_url."
            )
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
    return partner, await default_link(session, partner)


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
    now = utcnow()
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
        created_at=now,
        updated_at=now,
    )
    if credit.partner is not None:
        _hold_self_referral(customer, credit.partner)
    session.add(customer)
    await _flush_unique(session)
    return customer


def _hold_self_referral(customer: Customer, partner: Partner) -> None:
    """A partner signing up through their own link (their own email as the customer's email,
    or as its key) earns nothing from it: the customer is kept, credited to nobody, and
    flagged with the partner it would have credited, so the program owner can review it."""
    if partner.email_ci not in {customer.email_ci, normalize_email(customer.key)}:
        return
    customer.flag, customer.flagged_partner_id = SELF_REFERRAL, partner.id
    customer.partner_id = customer.referral_link_id = None


async def update_customer(
    session: AsyncSession, program: Program, customer: Customer, changes: CustomerChanges
) -> Customer:
    await _ensure_unique(session, program, changes.key, changes.email, exclude_id=customer.id)
    if changes.key is not None:
        customer.key = changes.key
    if changes.email is not None:
        customer.email, customer.email_ci = changes.email, normalize_email(changes.email)
    for name in ("name", "surname", "tags"):
        value = getattr(changes, name)
        if value is not None:
            setattr(customer, name, value)
    if customer.partner_id is not None and (changes.email or changes.key):
        partner = await session.get(Partner, customer.partner_id)
        if partner is not None:  # a credited customer renamed into its own partner
            _hold_self_referral(customer, partner)
    await _flush_unique(session)
    return customer


async def set_status(session: AsyncSession, customer: Customer, status: str) -> Customer:
    if status not in STATUSES:
        raise ValidationFailed.field("status", "The status must be active or suspended.")
    customer.status = status
    await session.flush()
    return customer


async def delete_customer(session: AsyncSession, customer: Customer) -> None:
    """A hard delete: the customer's personal data is gone, not hidden, also from the clicks
    and stored answers that carried it (`referly.domain.privacy`)."""
    await privacy.erase_customer(session, customer)


def _by_program(program: Program) -> Select[Customer]:
    return select(Customer).where(Customer.program_id == program.id)


async def get_customer(session: AsyncSession, program: Program, key: str) -> Customer:
    customer = await session.scalar(_by_program(program).where(Customer.key == key))
    if customer is None:
        raise NotFound("Customer not found")
    return customer


async def list_customers(
    session: AsyncSession,
    program: Program,
    page: int,
    limit: int,
    by: CustomerFilter | None = None,
) -> Page[Customer]:
    statement = _by_program(program)
    if by is not None and (by.partner_key is not None or by.partner_email is not None):
        statement = statement.where(Customer.partner_id.in_(_partner_ids(program, by)))
    return await paginate(session, statement.order_by(Customer.id), page, limit)


def _partner_ids(program: Program, by: CustomerFilter) -> Select[int]:
    statement = select(Partner.id).where(Partner.program_id == program.id)
    if by.partner_key is not None:
        statement = statement.where(Partner.key_ci == normalize_key(by.partner_key.strip()))
    if by.partner_email is not None:
        statement = statement.where(Partner.email_ci == normalize_email(by.partner_email))
    return statement


async def search_customers(
    session: AsyncSession,
    program: Program,
    *,
    key: str | None = None,
    email: str | None = None,
) -> Sequence[Customer]:
    statement = _by_program(program)
    if key is not None:
        statement = statement.where(Customer.key == key)
    if email is not None:
        statement = statement.where(Customer.email_ci == normalize_email(email))
    return (await session.scalars(statement.order_by(Customer.id).limit(250))).all()


async def customer_views(
    session: AsyncSession, customers: Sequence[Customer]
) -> list[CustomerView]:
    """Attach each customer's partner key with one query, not N."""
    partner_ids = {c.partner_id for c in customers if c.partner_id is not None}
    keys: dict[int, str] = {}
    if partner_ids:
        rows = await session.execute(
            select(Partner.id, Partner.key).where(Partner.id.in_(partner_ids))
        )
        keys = {partner_id: key for partner_id, key in rows}
    return [
        CustomerView(c, keys.get(c.partner_id) if c.partner_id is not None else None)
        for c in customers
    ]


async def _ensure_unique(
    session: AsyncSession,
    program: Program,
    key: str | None,
    email: str | None,
    exclude_id: int | None = None,
) -> None:
    """Friendly per-field errors for the common case; the constraints still decide races."""
    errors: dict[str, list[str]] = {}
    others = select(Customer.id).where(Customer.program_id == program.id)
    if exclude_id is not None:
        others = others.where(Customer.id != exclude_id)
    if key is not None and await session.scalar(others.where(Customer.key == key)) is not None:
        errors["key"] = ["The key has already been taken."]
    if email and await session.scalar(others.where(Customer.email_ci == normalize_email(email))):
        errors["email"] = ["The email has already been taken."]
    if errors:
        raise DuplicateKey(errors=errors)


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as error:  # lost a race with a concurrent identical request
        field = "email" if "email_ci" in str(error.orig) else "key"
        raise DuplicateKey(errors={field: [f"The {field} has already been taken."]}) from error
