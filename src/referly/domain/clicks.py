"""Clicks: a visitor arriving through a referral link. Recorded by the public tracking path,
listed by the CLI, and looked up when the visitor signs up so the customer remembers its click.
"""

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Insert, Integer, String, Text, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Click, Partner, Program, ReferralLink
from referly.db.types import UTCDateTime
from referly.domain.keys import normalize_key
from referly.domain.pagination import Page, paginate

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


def click_insert(program_id: int, new: NewClick, now: datetime) -> Insert:
    """One statement that records the click if the key is one of the program's referral keys
    and records nothing otherwise: `INSERT ... SELECT` from the matching link. Valid and
    unknown keys run the very same statement, so neither answer nor timing tells them apart.
    """
    source = select(
        literal(program_id, Integer),
        ReferralLink.partner_id,
        ReferralLink.id,
        literal(new.landing_url, Text),
        literal(new.referrer, Text),
        literal(new.visitor_id, String),
        literal(new.ip_hash, String),
        literal(now, UTCDateTime),
    ).where(
        ReferralLink.program_id == program_id,
        ReferralLink.key_ci == normalize_key(new.referral_key),
    )
    columns = [
        "program_id",
        "partner_id",
        "referral_link_id",
        "landing_url",
        "referrer",
        "visitor_id",
        "ip_hash",
        "created_at",
    ]
    return insert(Click).from_select(columns, source, include_defaults=False)


async def find_click_id(
    session: AsyncSession,
    partner_id: int,
    link_id: int,
    visitor_id: str | None,
    first: bool,
) -> int | None:
    """The click a signing-up visitor came through: their click on the credited link, the
    first one under first-click attribution, else the latest. None without a visitor id."""
    if not visitor_id:
        return None
    order = Click.id.asc() if first else Click.id.desc()
    statement = (
        select(Click.id)
        .where(
            Click.referral_link_id == link_id,  # with visitor_id: the lookup's index
            Click.visitor_id == visitor_id,
            # A filter, not an index key: `+ 0` keeps SQLite from walking every click of the
            # partner (a busy partner has hundreds of thousands) through ix_clicks_partner_id.
            Click.partner_id + 0 == partner_id,
        )
        .order_by(order)
        .limit(1)
    )
    return await session.scalar(statement)


async def list_clicks(
    session: AsyncSession, program: Program, page: int, limit: int
) -> Page[Click]:
    """The program's clicks, newest first."""
    statement = select(Click).where(Click.program_id == program.id).order_by(Click.id.desc())
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
