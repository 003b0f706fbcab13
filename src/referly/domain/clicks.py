"""Clicks: a visitor arriving through a referral link. Recorded by the public tracking path,
listed by the CLI, and looked up when the visitor signs up so the customer remembers its click."""

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Click, Partner, Program, ReferralLink
from referly.db.reads import Reader
from referly.db.types import UTCDateTime
from referly.db.writes import RowWriter
from referly.domain.attribution import NO_CLICKS, VisitorClicks
from referly.domain.pagination import Page, ordered, paginate
from referly.domain.referral_links import link_of_key

# A click is stored with a hash of the visitor's network (IPv4 /24, IPv6 /48), never the IP.
IPV4_PREFIX = 24
IPV6_PREFIX = 48


@dataclass(frozen=True)
class NewClick:
    referral_key: str
    landing_url: str | None = None
    referrer: str | None = None
    visitor_id: str | None = None
    ip_hash: str | None = None


@dataclass(frozen=True)
class ClickView:
    """A click with the keys it came through."""

    click: Click
    partner_id: str  # the partner's public id
    partner_key: str
    referral_key: str | None  # the link's key; None once the link is deleted


def hash_ip(ip: str, salt: str) -> str | None:
    """A hash of the client's network, not its address: enough to spot a burst of clicks
    from one place, too coarse to name a visitor. `salt` keeps hashes per program."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return hashlib.sha256(f"{salt}|{network}".encode()).hexdigest()[:32]


# The visitor's first and latest click on a link since a moment, found through the
# (referral_link_id, visitor_id) index.
VISITOR_CLICKS = select(func.min(Click.id), func.max(Click.id)).where(
    Click.referral_link_id == bindparam("link_id", type_=Integer),
    Click.visitor_id == bindparam("visitor_id", type_=String),
    Click.created_at >= bindparam("since", type_=UTCDateTime()),
)


async def visitor_clicks(
    reads: Reader, link_id: int, visitor_id: str | None, since: datetime
) -> VisitorClicks:
    """The visitor's clicks on the link that can still count; none without a visitor id."""
    if not visitor_id:
        return NO_CLICKS
    params = {"link_id": link_id, "visitor_id": visitor_id, "since": since}
    row = await reads.one(VISITOR_CLICKS, params)
    return NO_CLICKS if row is None else VisitorClicks(row[0], row[1])


async def record_click(
    reads: Reader, rows: RowWriter, program_id: int, new: NewClick, now: datetime
) -> bool:
    """Store a click when its key is one of the program's referral keys; an unknown key
    stores nothing but is answered on the same schedule (the caller cannot tell them apart).
    True when a click was stored."""
    link = await link_of_key(reads, program_id, new.referral_key)
    if link is None:
        await rows.barrier()
        return False
    row = {
        "program_id": program_id,
        "partner_id": link.partner_id,
        "referral_link_id": link.link_id,
        "landing_url": new.landing_url,
        "referrer": new.referrer,
        "visitor_id": new.visitor_id,
        "ip_hash": new.ip_hash,
        "created_at": now,
    }
    await rows.insert(Click, row)
    return True


async def list_clicks(
    session: AsyncSession, program: Program, page: int, limit: int, newest_first: bool = True
) -> Page[Click]:
    statement = ordered(select(Click).where(Click.program_id == program.id), Click.id, newest_first)
    return await paginate(session, statement, page, limit)


async def click_views(session: AsyncSession, clicks: Sequence[Click]) -> list[ClickView]:
    """Attach partner and link keys with two queries, not 2N."""
    partner_ids = {c.partner_id for c in clicks}
    link_ids = {c.referral_link_id for c in clicks if c.referral_link_id is not None}
    partners = await session.execute(
        select(Partner.id, Partner.public_id, Partner.key).where(Partner.id.in_(partner_ids))
    )
    partner_of = {row.id: (row.public_id, row.key) for row in partners}
    links = await session.execute(
        select(ReferralLink.id, ReferralLink.key).where(ReferralLink.id.in_(link_ids))
    )
    link_key = {row.id: row.key for row in links}
    return [
        ClickView(
            click=c,
            partner_id=partner_of[c.partner_id][0],
            partner_key=partner_of[c.partner_id][1],
            referral_key=link_key.get(c.referral_link_id) if c.referral_link_id else None,
        )
        for c in clicks
    ]
