"""Every database read and write of the tracking path, in one place. Each write commits before
it returns, so the endpoint answers only after that: a 2xx means committed.

The two writes go through the process's group-commit writer (`referly.db.group_commit`), so
concurrent reports share one transaction. Each is ONE `INSERT ... SELECT` whose query does
the lookups the domain services do with several (`domain.clicks.click_insert`,
`domain.customers.create_customer`): a click is stored only when its key is one of the
program's referral keys; a sign-up is stored only when its partner key is, credited to that
link's partner, with the visitor's click on that link (the first or the latest, by the
program's attribution rule), and held back as a self-referral when the customer is the
partner. Valid and unknown keys run the very same statement; a repeated sign-up (same key or
email) meets a unique constraint and is a no-op, also when two race."""

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referly.db.group_commit import GroupCommitWriter, RowStatement
from referly.db.models import Click, Customer, Program
from referly.db.types import UTCDateTime, utcnow
from referly.domain.customers import SELF_REFERRAL
from referly.domain.keys import normalize_email, normalize_key
from referly.tracking.programs import PublicProgram
from referly.tracking.reports import ClickReport, SignupReport

# The referral key's link in the program, the same lookup as `resolve_referral_key`.
LINK_OF_KEY = "l.program_id = :program_id AND l.key_ci = :key_ci"

CLICK = RowStatement(
    table=Click.__table__,  # type: ignore[arg-type]
    columns=(
        "program_id",
        "partner_id",
        "referral_link_id",
        "landing_url",
        "referrer",
        "visitor_id",
        "ip_hash",
        "created_at",
    ),
    values=(
        ":program_id",
        "l.partner_id",
        "l.id",
        ":landing_url",
        ":referrer",
        ":visitor_id",
        ":ip_hash",
        ":created_at",
    ),
    source="referral_links l",
    where=LINK_OF_KEY,
    params=(
        ("program_id", Integer()),
        ("key_ci", String()),
        ("landing_url", Text()),
        ("referrer", Text()),
        ("visitor_id", String()),
        ("ip_hash", String()),
        ("created_at", UTCDateTime()),
    ),
)

# The partner signing up through their own link: their email as the customer's email or key.
SELF = "p.email_ci IN (:email_ci, :key_folded)"


def _signup(order: str) -> RowStatement:
    """The sign-up statement; `order` picks the visitor's click: ASC first, DESC latest."""
    # No visitor id, no click. With one: the visitor's clicks on the link, found through the
    # (referral_link_id, visitor_id) index. The unary `+` keeps the partner check a filter:
    # as an index key (SQLite's choice without it) it walks every click of the partner, and a
    # busy partner has hundreds of thousands.
    click = (
        "CASE WHEN :visitor_id IS NULL THEN NULL ELSE"
        " (SELECT c.id FROM clicks c WHERE c.referral_link_id = l.id"
        " AND c.visitor_id = :visitor_id AND +c.partner_id = l.partner_id"
        f" ORDER BY c.id {order} LIMIT 1) END"
    )
    return RowStatement(
        table=Customer.__table__,  # type: ignore[arg-type]
        columns=(
            "program_id",
            "key",
            "email",
            "email_ci",
            "name",
            "surname",
            "tags",
            "partner_id",
            "referral_link_id",
            "click_id",
            "source",
            "status",
            "created_at",
            "updated_at",
            "flag",
            "flagged_partner_id",
        ),
        values=(
            ":program_id",
            ":key",
            ":email",
            ":email_ci",
            ":name",
            ":surname",
            ":tags",
            f"CASE WHEN {SELF} THEN NULL ELSE l.partner_id END",
            f"CASE WHEN {SELF} THEN NULL ELSE l.id END",
            click,
            ":source",
            "'active'",
            ":now",
            ":now",
            f"CASE WHEN {SELF} THEN '{SELF_REFERRAL}' ELSE NULL END",
            f"CASE WHEN {SELF} THEN p.id ELSE NULL END",
        ),
        source="referral_links l JOIN partners p ON p.id = l.partner_id",
        where=LINK_OF_KEY,
        params=(
            ("program_id", Integer()),
            ("key_ci", String()),
            ("key", String()),
            ("email", String()),
            ("email_ci", String()),
            ("key_folded", String()),
            ("name", String()),
            ("surname", String()),
            ("tags", JSON()),
            ("visitor_id", String()),
            ("source", String()),
            ("now", UTCDateTime()),
        ),
    )


SIGNUP_FIRST_CLICK = _signup("ASC")
SIGNUP_LAST_CLICK = _signup("DESC")


class TrackingStore:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], writer: GroupCommitWriter
    ) -> None:
        self.sessionmaker = sessionmaker
        self.writer = writer

    async def load_program(self, public_id: str) -> PublicProgram | None:
        async with self.sessionmaker() as session:
            program = await session.scalar(select(Program).where(Program.public_id == public_id))
            return PublicProgram.of(program) if program is not None else None

    async def record_click(
        self, program: PublicProgram, report: ClickReport, ip_hash: str | None
    ) -> None:
        """A row for a known key, none for an unknown one; committed when this returns.
        `ip_hash` is the client's network (`domain.clicks.hash_ip`)."""
        await self.writer.execute(
            CLICK,
            {
                "program_id": program.id,
                "key_ci": normalize_key(report.referral_key),
                "landing_url": report.landing_url,
                "referrer": report.referrer,
                "visitor_id": report.visitor_id,
                "ip_hash": ip_hash,
                "created_at": utcnow(),
            },
        )

    async def record_signup(self, program: PublicProgram, report: SignupReport) -> None:
        """A customer credited to the partner the referral key names; nothing without a key
        (nobody to credit), for an unknown key, or for a key or email the program has."""
        if report.partner_key is None:
            return
        first = program.attribution == "first_click"
        await self.writer.execute(
            SIGNUP_FIRST_CLICK if first else SIGNUP_LAST_CLICK,
            {
                "program_id": program.id,
                "key_ci": normalize_key(report.partner_key),
                "key": report.key,
                "email": report.email,
                "email_ci": normalize_email(report.email) if report.email else None,
                "key_folded": normalize_email(report.key),
                "name": report.name,
                "surname": report.surname,
                "tags": [],
                "visitor_id": report.visitor_id,
                "source": report.source,
                "now": utcnow(),
            },
        )
