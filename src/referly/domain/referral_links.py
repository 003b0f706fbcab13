"""Referral links: every referral key of a program, default (the partner's own key) or extra."""

from sqlalchemy import Integer, String, bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Partner, Program, ReferralLink
from referly.db.reads import Query, Reader, Row
from referly.domain.attribution import NamedLink
from referly.domain.keys import is_valid_referral_key, normalize_email, normalize_key
from referly.domain.pagination import Page, paginate
from referly.domain.partners import PartnerRef, find_partner
from referly.errors import DuplicateKey, NotFound, ValidationFailed


def _named_links() -> Query:
    return select(ReferralLink.id, ReferralLink.partner_id, Partner.key, Partner.email_ci).join(
        Partner, Partner.id == ReferralLink.partner_id
    )


# The link a referral key names in a program: a partner's own key or an extra link's key, in
# any case (every referral key of a program lives in `referral_links`, one namespace).
LINK_OF_KEY = _named_links().where(
    ReferralLink.program_id == bindparam("program_id", type_=Integer),
    ReferralLink.key_ci == bindparam("key_ci", type_=String),
)
_DEFAULT_LINK = _named_links().where(
    Partner.program_id == bindparam("program_id", type_=Integer), ReferralLink.is_default
)
DEFAULT_LINK_OF_PARTNER_ID = _DEFAULT_LINK.where(
    Partner.public_id == bindparam("public_id", type_=String)
)
DEFAULT_LINK_OF_PARTNER_EMAIL = _DEFAULT_LINK.where(
    Partner.email_ci == bindparam("email_ci", type_=String)
)


def _named(row: Row | None) -> NamedLink | None:
    return None if row is None else NamedLink(int(row[0]), int(row[1]), row[2], row[3])


async def link_of_key(reads: Reader, program_id: int, key: str) -> NamedLink | None:
    """The link (and partner) a referral key names in the program; None for an unknown or
    malformed key."""
    if not is_valid_referral_key(key):
        return None
    params = {"program_id": program_id, "key_ci": normalize_key(key)}
    return _named(await reads.one(LINK_OF_KEY, params))


async def link_named_by(reads: Reader, program_id: int, ref: PartnerRef) -> NamedLink | None:
    """The link a request names a partner by (Partnero's order): `key` (the partner's own
    key or one of its extra link keys), else `id`, else `email` (the partner's default
    link)."""
    if ref.key:
        return await link_of_key(reads, program_id, ref.key)
    if ref.id:
        params = {"program_id": program_id, "public_id": ref.id}
        return _named(await reads.one(DEFAULT_LINK_OF_PARTNER_ID, params))
    if ref.email:
        params = {"program_id": program_id, "email_ci": normalize_email(ref.email)}
        return _named(await reads.one(DEFAULT_LINK_OF_PARTNER_EMAIL, params))
    return None


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
        raise DuplicateKey.of("key")
    link = ReferralLink(
        program_id=program.id, partner_id=partner.id, key=key, key_ci=normalize_key(key)
    )
    session.add(link)
    try:
        await session.flush()
    except IntegrityError as error:  # lost a race with a concurrent identical request
        raise DuplicateKey.of("key") from error
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
