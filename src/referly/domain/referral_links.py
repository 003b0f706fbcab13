"""Referral links: every referral key of a program, default (the partner's own key) or extra."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Partner, Program, ReferralLink
from referly.domain.keys import is_valid_referral_key, normalize_key


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
