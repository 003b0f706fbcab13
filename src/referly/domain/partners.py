"""Partners and their default referral link."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Customer, Partner, Program, ReferralLink
from referly.domain.keys import new_generated_key, normalize_email, normalize_key
from referly.domain.pagination import Page, ordered, paginate
from referly.domain.passwords import hash_password
from referly.errors import DuplicateKey, InvalidPartnerKey, NotFound


@dataclass(frozen=True)
class PartnerRef:
    """How a request names a partner: by key, else id, else email (Partnero's order)."""

    key: str | None = None
    id: str | None = None
    email: str | None = None

    @property
    def given(self) -> bool:
        return any((self.key, self.id, self.email))


@dataclass
class NewPartner:
    email: str
    id: str | None = None
    key: str | None = None
    name: str | None = None
    surname: str | None = None
    password: str | None = None
    tags: list[str] | None = None


@dataclass
class PartnerChanges:
    """Fields to change; None leaves a field as it is."""

    email: str | None = None
    key: str | None = None
    name: str | None = None
    surname: str | None = None
    password: str | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class PartnerView:
    """A partner with what its API object shows besides its own columns."""

    partner: Partner
    link_keys: list[str]
    referrals_count: int


def _by_program(program: Program) -> Select[Partner]:
    return select(Partner).where(Partner.program_id == program.id)


async def create_partner(session: AsyncSession, program: Program, new: NewPartner) -> Partner:
    key = new.key or new_generated_key()
    public_id = new.id or new_generated_key()
    await _ensure_unique(session, program, email=new.email, key=key, public_id=public_id)
    partner = Partner(
        program_id=program.id,
        public_id=public_id,
        key=key,
        key_ci=normalize_key(key),
        email=new.email,
        email_ci=normalize_email(new.email),
        name=new.name,
        surname=new.surname,
        password_hash=hash_password(new.password) if new.password else None,
        tags=new.tags or [],
    )
    session.add(partner)
    await _flush_unique(session)
    session.add(
        ReferralLink(
            program_id=program.id,
            partner_id=partner.id,
            key=key,
            key_ci=normalize_key(key),
            is_default=True,
        )
    )
    await _flush_unique(session, field="key")
    return partner


async def update_partner(
    session: AsyncSession, program: Program, public_id: str, changes: PartnerChanges
) -> Partner:
    """Change the partner with this id; `NotFound` when the program has none."""
    partner = await get_partner(session, program, public_id)
    await _ensure_unique(
        session, program, email=changes.email, key=changes.key, exclude_id=partner.id
    )
    if changes.email is not None:
        partner.email, partner.email_ci = changes.email, normalize_email(changes.email)
    if changes.key is not None and changes.key != partner.key:
        await _rename_default_link(session, partner, changes.key)
        partner.key, partner.key_ci = changes.key, normalize_key(changes.key)
    for name in ("name", "surname", "tags"):
        value = getattr(changes, name)
        if value is not None:
            setattr(partner, name, value)
    if changes.password is not None:
        partner.password_hash = hash_password(changes.password)
    await _flush_unique(session)
    return partner


async def delete_partner(session: AsyncSession, partner: Partner) -> None:
    await session.execute(delete(Partner).where(Partner.id == partner.id))
    await session.flush()


async def get_partner(session: AsyncSession, program: Program, public_id: str) -> Partner:
    partner = await session.scalar(_by_program(program).where(Partner.public_id == public_id))
    if partner is None:
        raise NotFound("Partner not found")
    return partner


async def find_partner(session: AsyncSession, program: Program, ref: PartnerRef) -> Partner:
    """The partner a request names; `Invalid partner key` (400) when there is none."""
    statement = _by_program(program)
    if ref.key:
        statement = statement.where(Partner.key_ci == normalize_key(ref.key))
    elif ref.id:
        statement = statement.where(Partner.public_id == ref.id)
    elif ref.email:
        statement = statement.where(Partner.email_ci == normalize_email(ref.email))
    else:
        raise InvalidPartnerKey()
    partner = await session.scalar(statement)
    if partner is None:
        raise InvalidPartnerKey()
    return partner


async def list_partners(
    session: AsyncSession, program: Program, page: int, limit: int, newest_first: bool = True
) -> Page[Partner]:
    statement = ordered(_by_program(program), Partner.id, newest_first)
    return await paginate(session, statement, page, limit)


async def search_partners(
    session: AsyncSession,
    program: Program,
    *,
    id: str | None = None,
    key: str | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Sequence[Partner]:
    statement = _by_program(program)
    if id is not None:
        statement = statement.where(Partner.public_id == id)
    if key is not None:
        statement = statement.where(Partner.key_ci == normalize_key(key))
    if email is not None:
        statement = statement.where(Partner.email_ci == normalize_email(email))
    if name is not None:
        statement = statement.where(func.lower(Partner.name) == name.strip().lower())
    return (await session.scalars(statement.order_by(Partner.id).limit(250))).all()


async def partner_views(session: AsyncSession, partners: Sequence[Partner]) -> list[PartnerView]:
    """Attach link keys and referral counts to partners with two queries, not 2N."""
    ids = [p.id for p in partners]
    if not ids:
        return []
    links = await session.execute(
        select(ReferralLink.partner_id, ReferralLink.key)
        .where(ReferralLink.partner_id.in_(ids))
        .order_by(ReferralLink.is_default.desc(), ReferralLink.id)
    )
    keys: dict[int, list[str]] = {i: [] for i in ids}
    for partner_id, key in links:
        keys[partner_id].append(key)
    counts = await session.execute(
        select(Customer.partner_id, func.count())
        .where(Customer.partner_id.in_(ids))
        .group_by(Customer.partner_id)
    )
    count_of = {partner_id: count for partner_id, count in counts}
    return [PartnerView(p, keys[p.id], int(count_of.get(p.id, 0))) for p in partners]


async def _ensure_unique(
    session: AsyncSession,
    program: Program,
    *,
    email: str | None = None,
    key: str | None = None,
    public_id: str | None = None,
    exclude_id: int | None = None,
) -> None:
    """Friendly per-field errors for the common case; the constraints still decide races."""
    taken: list[str] = []
    others = _by_program(program)
    if exclude_id is not None:
        others = others.where(Partner.id != exclude_id)
    if email and await session.scalar(others.where(Partner.email_ci == normalize_email(email))):
        taken.append("email")
    if key and await _key_taken(session, program, key, exclude_id):
        taken.append("key")
    if public_id and await session.scalar(others.where(Partner.public_id == public_id)):
        taken.append("id")
    if taken:
        raise DuplicateKey.of(*taken)


async def _key_taken(
    session: AsyncSession, program: Program, key: str, exclude_partner_id: int | None
) -> bool:
    statement = select(ReferralLink.id).where(
        ReferralLink.program_id == program.id, ReferralLink.key_ci == normalize_key(key)
    )
    if exclude_partner_id is not None:
        statement = statement.where(
            ~((ReferralLink.partner_id == exclude_partner_id) & ReferralLink.is_default)
        )
    return await session.scalar(statement) is not None


async def _rename_default_link(session: AsyncSession, partner: Partner, key: str) -> None:
    link = await session.scalar(
        select(ReferralLink).where(
            ReferralLink.partner_id == partner.id, ReferralLink.is_default.is_(True)
        )
    )
    if link is not None:
        link.key, link.key_ci = key, normalize_key(key)


async def _flush_unique(session: AsyncSession, field: str | None = None) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        raise (DuplicateKey.of(field) if field else DuplicateKey()) from error
