"""Customers: who signed up, and which partner (and link, and click) gets the credit."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Integer, Select, String, bindparam, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Customer, CustomerAlias, Partner, Program, SupersededSignup
from referly.db.reads import Reader
from referly.db.types import utcnow
from referly.db.writes import RowWriter
from referly.domain import privacy
from referly.domain.attribution import (
    API_SOURCE,
    NOBODY,
    PUBLIC_SOURCES,
    Credit,
    credit,
    credit_after_change,
    link_of_referral_url,
    named_link,
    require_partner,
    supersedes,
    window_start,
)
from referly.domain.clicks import visitor_clicks
from referly.domain.keys import normalize_email, normalize_key, referral_key_from_url
from referly.domain.pagination import Page, ordered, paginate
from referly.domain.partners import PartnerRef
from referly.domain.referral_links import link_named_by, link_of_key
from referly.errors import DuplicateKey, NotFound, ValidationFailed

SOURCES = (API_SOURCE, *PUBLIC_SOURCES)
ACTIVE = "active"
STATUSES = (ACTIVE, "suspended")


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
    visitor_id: str | None = None  # the browser's visitor id: the sign-up's click is theirs


class CreditRules(Protocol):
    """What crediting a customer needs to know of its program (a `Program` row, or the public
    path's cached copy of one)."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def attribution(self) -> str: ...
    @property
    def cookie_lifetime_days(self) -> int: ...
    @property
    def url_params(self) -> Sequence[str]: ...


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


@dataclass(frozen=True, slots=True)
class StoredCustomer:
    """A customer row just written, as its columns (`customer_row`) and id: what its answer
    shows, without an ORM object (which costs more than the rest of a public sign-up)."""

    id: int
    program_id: int
    key: str
    email: str | None
    email_ci: str | None
    name: str | None
    surname: str | None
    tags: list[str]
    partner_id: int | None
    referral_link_id: int | None
    click_id: int | None
    source: str
    status: str
    created_at: datetime
    updated_at: datetime
    flag: str | None
    flagged_partner_id: int | None


@dataclass(frozen=True)
class CustomerView:
    """A customer (a row read, or one just written) with the key of the partner it is
    credited to."""

    customer: Customer | StoredCustomer
    partner_key: str | None


NONE = (0, None, None, 0, 0)  # what CLASH finds when nothing clashes
NO_LINK = 0  # no referral link has this id
# The customers that hold a new customer's key or email already: how many, the id and source of
# one, and whether the key and the email are taken (1/0).
CLASH = select(
    func.count(),
    func.max(Customer.id),
    func.max(Customer.source),
    func.max(case((Customer.key == bindparam("key", type_=String), 1), else_=0)),
    func.max(case((Customer.email_ci == bindparam("email_ci", type_=String), 1), else_=0)),
).where(
    Customer.program_id == bindparam("program_id", type_=Integer),
    or_(
        Customer.key == bindparam("key", type_=String),
        Customer.email_ci == bindparam("email_ci", type_=String),
    ),
)


async def credit_new_customer(
    reads: Reader, program: CreditRules, new: NewCustomer, now: datetime
) -> Credit:
    """Who a new customer is credited to (`referly.domain.attribution` decides; this fetches
    what it decides on): the link its partner reference names (`options.referral_url`
    narrowing it to one of that partner's links) and the visitor's clicks on it."""
    require_partner(program.type, new.partner.given, bool(new.referral_url))
    if not new.partner.given:
        return NOBODY
    named = await link_named_by(reads, program.id, new.partner)
    if named is None:
        # An unknown partner reads what a known one does before it is refused, so the answer
        # comes as late (the public path answers both alike: no key-guessing oracle).
        await visitor_clicks(reads, NO_LINK, new.visitor_id, now)
    link = named_link(named)
    if new.referral_url:
        url_key = referral_key_from_url(new.referral_url, program.url_params)
        url_link = await link_of_key(reads, program.id, url_key) if url_key else None
        link = link_of_referral_url(link, url_link)
    since = window_start(now, program.cookie_lifetime_days)
    clicks = await visitor_clicks(reads, link.link_id, new.visitor_id, since)
    return credit(link, new.key, new.email, clicks, program.attribution)


def customer_row(
    program_id: int, new: NewCustomer, credited: Credit, now: datetime
) -> dict[str, Any]:
    """A new customer's columns: the one place they are set."""
    return {
        "program_id": program_id,
        "key": new.key,
        "email": new.email,
        "email_ci": normalize_email(new.email) if new.email else None,
        "name": new.name,
        "surname": new.surname,
        "tags": list(new.tags),
        "partner_id": credited.partner_id,
        "referral_link_id": credited.referral_link_id,
        "click_id": credited.click_id,
        "source": new.source,
        "status": ACTIVE,
        "created_at": now,
        "updated_at": now,
        "flag": credited.flag,
        "flagged_partner_id": credited.flagged_partner_id,
    }


async def create_customer(
    reads: Reader,
    rows: RowWriter,
    program: CreditRules,
    new: NewCustomer,
    now: datetime | None = None,
) -> CustomerView:
    """A new customer, credited by the attribution rules, for every door: the REST API, the
    public sign-up path and the CLI. Reads go through `reads`, the row through `rows` (the
    group-commit writer, or the caller's session). Errors: `Invalid partner key` (400) when
    the partner named is not the program's, 422 for a missing partner or a referral URL that
    is not the partner's, `Duplicate key` (422, naming the field) when the key or email is
    taken. The merchant's server outranks an anonymous public sign-up of the same customer
    (`attribution.supersedes`): its report then decides the credit of the existing customer,
    and the public one is kept for review (`SupersededSignup`)."""
    now = now or utcnow()
    credited = await credit_new_customer(reads, program, new, now)
    row = customer_row(program.id, new, credited, now)
    inserted = await rows.insert(Customer, row)
    if inserted.id is not None:
        return CustomerView(StoredCustomer(id=inserted.id, **row), credited.partner_key)
    email_ci = normalize_email(new.email) if new.email else None
    params = {"program_id": program.id, "key": new.key, "email_ci": email_ci}
    count, clash_id, clash_source, key_taken, email_taken = await reads.one(CLASH, params) or NONE
    if count == 1 and clash_id is not None and supersedes(new.source, clash_source):
        async with rows.transaction() as session:
            customer = await _supersede(session, clash_id, row, now)
        if customer is not None:
            return CustomerView(customer, credited.partner_key)
    raise _duplicate(key_taken=bool(key_taken), email_taken=bool(email_taken))


async def _supersede(
    session: AsyncSession, customer_id: int, row: dict[str, Any], now: datetime
) -> Customer | None:
    """Give the public sign-up's customer the server's report: its fields and its credit,
    keeping what the public report would have credited for review, and the key or email it
    no longer has (for erasure). None when it is no longer a public sign-up's (the server
    reported it meanwhile)."""
    customer = await session.get(Customer, customer_id, with_for_update=True)
    if customer is None or not supersedes(row["source"], customer.source):
        return None
    session.add(
        SupersededSignup(
            program_id=customer.program_id,
            customer_id=customer.id,
            partner_id=customer.partner_id or customer.flagged_partner_id,
            referral_link_id=customer.referral_link_id,
            click_id=customer.click_id,
            source=customer.source,
            signed_up_at=customer.created_at,
            superseded_at=now,
        )
    )
    await _remember_alias(session, customer, row["key"], row["email_ci"])
    for name, value in row.items():
        if name not in ("program_id", "created_at"):
            setattr(customer, name, value)
    await _flush_unique(session)
    return customer


async def _remember_alias(
    session: AsyncSession, customer: Customer, key: str | None, email_ci: str | None
) -> None:
    """Keep the key and email a customer is about to lose, when they change."""
    if (key is None or key == customer.key) and (email_ci is None or email_ci == customer.email_ci):
        return
    session.add(
        CustomerAlias(customer_id=customer.id, key=customer.key, email_ci=customer.email_ci)
    )


def _duplicate(*, key_taken: bool, email_taken: bool) -> DuplicateKey:
    return DuplicateKey.of(
        *(name for name, taken in (("key", key_taken), ("email", email_taken)) if taken)
    )


async def update_customer(
    session: AsyncSession, program: Program, key: str, changes: CustomerChanges
) -> Customer:
    """Change the customer with this key; `NotFound` when the program has none."""
    customer = await get_customer(session, program, key)
    await _ensure_unique(session, program, changes.key, changes.email, exclude_id=customer.id)
    email_ci = normalize_email(changes.email) if changes.email is not None else None
    await _remember_alias(session, customer, changes.key, email_ci)
    if changes.key is not None:
        customer.key = changes.key
    if changes.email is not None:
        customer.email, customer.email_ci = changes.email, normalize_email(changes.email)
    for name in ("name", "surname", "tags"):
        value = getattr(changes, name)
        if value is not None:
            setattr(customer, name, value)
    if customer.partner_id is not None and (changes.email or changes.key):
        await _recheck_credit(session, customer)
    await _flush_unique(session)
    return customer


async def _recheck_credit(session: AsyncSession, customer: Customer) -> None:
    """A credited customer renamed into its own partner loses the credit."""
    partner = await session.get(Partner, customer.partner_id)
    if partner is None:
        return
    before = Credit(customer.partner_id, partner.key, customer.referral_link_id, customer.click_id)
    after = credit_after_change(before, customer.key, customer.email, partner.email_ci)
    customer.partner_id, customer.referral_link_id = after.partner_id, after.referral_link_id
    if after.flag is not None:
        customer.flag, customer.flagged_partner_id = after.flag, after.flagged_partner_id


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
    newest_first: bool = True,
) -> Page[Customer]:
    statement = _by_program(program)
    if by is not None and (by.partner_key is not None or by.partner_email is not None):
        statement = statement.where(Customer.partner_id.in_(_partner_ids(program, by)))
    return await paginate(session, ordered(statement, Customer.id, newest_first), page, limit)


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
    others = select(Customer.id).where(Customer.program_id == program.id)
    if exclude_id is not None:
        others = others.where(Customer.id != exclude_id)
    key_taken = key is not None and await session.scalar(others.where(Customer.key == key))
    email_ci = normalize_email(email) if email else None
    email_taken = email_ci and await session.scalar(others.where(Customer.email_ci == email_ci))
    if key_taken or email_taken:
        raise _duplicate(key_taken=bool(key_taken), email_taken=bool(email_taken))


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as error:  # lost a race with a concurrent identical request
        field = "email" if "email_ci" in str(error.orig) else "key"
        raise DuplicateKey.of(field) from error
