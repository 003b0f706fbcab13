"""Every database read and write of the tracking path, in one place, so the hot inserts can
move to another writer (group commit) without touching the rest. Each method commits before it
returns: the endpoint answers only after that, so a 2xx means committed."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from referly.db.models import Customer, Program
from referly.db.types import utcnow
from referly.domain import clicks
from referly.domain.clicks import NewClick
from referly.domain.customers import NewCustomer, create_customer
from referly.domain.partners import PartnerRef
from referly.domain.referral_links import resolve_referral_key
from referly.errors import DuplicateKey, InvalidPartnerKey
from referly.tracking.programs import PublicProgram
from referly.tracking.reports import SignupReport


class TrackingStore:
    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker

    async def load_program(self, public_id: str) -> PublicProgram | None:
        async with self.sessionmaker() as session:
            program = await session.scalar(select(Program).where(Program.public_id == public_id))
            return PublicProgram.of(program) if program is not None else None

    async def record_click(self, program: PublicProgram, new: NewClick) -> None:
        """One `INSERT ... SELECT`: a row for a known key, none for an unknown one."""
        async with self.engine.begin() as connection:
            await connection.execute(clicks.click_insert(program.id, new, utcnow()))

    async def record_signup(self, program: PublicProgram, report: SignupReport) -> None:
        async with self.sessionmaker() as session, session.begin():
            found = await session.get(Program, program.id)
            if found is not None:
                await credit_signup(session, found, report)


async def credit_signup(
    session: AsyncSession, program: Program, report: SignupReport
) -> Customer | None:
    """A customer credited to the partner the referral key names, with the link and the click
    it came through. Nothing for an unknown key (the public path never stores a customer it
    cannot credit), and nothing for a key or email the program already has: a repeated
    sign-up is a no-op, also when two race (the unique constraint decides, in a savepoint)."""
    found = await resolve_referral_key(session, program, report.partner_key or "")
    if found is None:
        return None
    partner, link = found
    first = program.attribution == "first_click"
    click_id = await clicks.find_click_id(session, partner.id, link.id, report.visitor_id, first)
    new = NewCustomer(
        key=report.key,
        email=report.email,
        name=report.name,
        surname=report.surname,
        partner=PartnerRef(key=link.key),
        source=report.source,
        click_id=click_id,
    )
    try:
        async with session.begin_nested():
            return await create_customer(session, program, new)
    except (DuplicateKey, InvalidPartnerKey):  # already signed up; or the partner just left
        return None
