"""Referral links: every referral key of a program, default (the partner's own key) or extra."""

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Partner, Program, ReferralLink
from referly.domain.keys import is_valid_referral_key, normalize_key
from referly.domain.pagination import Page, paginate
from referly.domain.partners import PartnerRef, find_partner
from referly.errors import DuplicateKey, NotFound, ValidationFailed

KEY_TAKEN = "The key has already been taken."


async def resolve_referral_key(
    session: AsyncSession, program: Program, key: str
) -> tuple[Partner, ReferralLink] | None:
    """The partner and link a referral key names (partner key or extra link key, any case)."""
    if not is_valid_referral_key(key):
        return None
    statement = (
        select(Partner, ReferralLink)
        .join(ReferralLink, ReferralLink.partner_id == Partner.id)
        .where(ReferralLink.program_id == program.id, ReferralLink.key_ci == normalize_key(key))
    )
    found = (await session.execute(statement)).first()
    if found is None:
        return None
    partner, link = found
    return partner, link


async def default_link(session: AsyncSession, partner: Partner) -> ReferralLink | None:
    statement = select(ReferralLink).where(
        ReferralLink.partner_id == partner.id, ReferralLink.is_default.is_(True)
    )
    return await session.scalar(statement)


async def create_referral_link(
    session: AsyncSession, program: Program, owner: PartnerRef, key: str
) -> ReferralLink:
    """An extra link for the partner `owner` names. Its key shares one case-insensitive
    namespace with every partner key and link key of the program."""
    if not owner.given:
        raise ValidationFailed.field("partner", "The partner field is required.")
    if not is_valid_referral_key(key):
        raise ValidationFailed.field(
            "key", "The key may only contain letters, digits, '-', '_' and '.' (1 to 64)."
        )
    partner = await find_partner(session, program, owner)
    taken = select(ReferralLink.id).where(
        ReferralLink.program_id == program.id, ReferralLink.key_ci == normalize_key(key)
    )
    if await session.scalar(taken) is not None:
        raise DuplicateKey(errors={"key": [KEY_TAKEN]})
    link = ReferralLink(
        program_id=program.id, partner_id=partner.id, key=key, key_ci=normalize_key(key)
    )
    session.add(link)
    try:
        await session.flush()
    except IntegrityError as error:  # lost a race with a concurrent identical request
        raise DuplicateKey(errors={"key": [KEY_TAKEN]}) from error
    return link


async def get_referral_link(session: AsyncSession, program: Program, key: str) -> ReferralLink:
    statement = select(ReferralLink).where(
        ReferralLink.program_id == program.id, ReferralLink.key_ci == normalize_key(key)
    )
    link = await session.scalar(statement)
    if link is None:
        raise NotFound("Referral link not found")
    return link


async def list_referral_links(
    session: AsyncSession, partner: Partner, page: int, limit: int
) -> Page[ReferralLink]:
    """The partner's links, its default link first."""
    statement = (
        select(ReferralLink)
        .where(ReferralLink.partner_id == partner.id)
        .order_by(ReferralLink.is_default.desc(), ReferralLink.id)
    )
    return await paginate(session, statement, page, limit)


async def delete_referral_link(session: AsyncSession, link: ReferralLink) -> None:
    """Customers and clicks credited to the link keep their partner and lose only the link."""
    if link.is_default:
        raise ValidationFailed.field(
            "key",
            "A partner's default referral link cannot be deleted; change the partner's key "
            "instead.",
        )
    await session.execute(delete(ReferralLink).where(ReferralLink.id == link.id))
    await session.flush()
