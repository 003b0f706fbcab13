"""The verdict: every request the clients saw answered 2xx must be in the database exactly
once. Requests that got no answer, or a refusal, may be there or not (a client may retry
them), but not twice."""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from referly.config import Settings
from referly.db.engine import create_engine
from referly.db.models import Click, Customer, Program
from tools.faults.load import CLICK, CREATE, KINDS, SIGNUP, Attempt, ident_of_landing_url

Request = tuple[str, str]  # kind, ident
PREFIXES = {"su-": SIGNUP, "api-": CREATE}


@dataclass(frozen=True)
class PathCounts:
    kind: str
    sent: int  # requests sent, retries included
    acknowledged: int  # distinct requests answered 2xx, on the first try or a retry
    refused: int  # never answered 2xx, answered something else (4xx, 5xx)
    unanswered: int  # never answered at all
    found: int  # acknowledged and stored exactly once
    missing: int  # acknowledged and not stored: a lost write
    duplicated: int  # stored more than once
    stored_unacknowledged: int  # never acknowledged yet stored: allowed
    statuses: Counter[int | None]

    @property
    def passed(self) -> bool:
        return self.missing == 0 and self.duplicated == 0


async def stored_requests(database_url: str, public_id: str) -> Counter[Request]:
    """How many rows each of the load's requests left in the program."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        return await _stored(engine, public_id)
    finally:
        await engine.dispose()


async def _stored(engine: AsyncEngine, public_id: str) -> Counter[Request]:
    found: Counter[Request] = Counter()
    async with engine.connect() as connection:
        program_id = await connection.scalar(
            select(Program.id).where(Program.public_id == public_id)
        )
        customers = await connection.execute(
            select(Customer.key, func.count())
            .where(Customer.program_id == program_id)
            .group_by(Customer.key)
        )
        for key, count in customers:
            prefix, kind = next(((p, k) for p, k in PREFIXES.items() if key.startswith(p)))
            found[(kind, key.removeprefix(prefix))] += count
        clicks = await connection.execute(
            select(Click.landing_url, func.count())
            .where(Click.program_id == program_id)
            .group_by(Click.landing_url)
        )
        for url, count in clicks:
            ident = ident_of_landing_url(url or "")
            found[(CLICK, ident or f"unexpected {url!r}")] += count
    return found


def audit(log: list[Attempt], stored: Counter[Request]) -> list[PathCounts]:
    return [_count(kind, [a for a in log if a.kind == kind], stored) for kind in KINDS]


def _count(kind: str, attempts: list[Attempt], stored: Counter[Request]) -> PathCounts:
    sent = {a.ident for a in attempts}
    acked = {a.ident for a in attempts if a.acknowledged}
    answered = {a.ident for a in attempts if a.status is not None}
    present = {ident for (k, ident), count in stored.items() if k == kind and count > 0}
    return PathCounts(
        kind=kind,
        sent=len(attempts),
        acknowledged=len(acked),
        refused=len(answered - acked),
        unanswered=len(sent - answered),
        found=sum(1 for ident in acked if stored[(kind, ident)] == 1),
        missing=len(acked - present),
        duplicated=sum(1 for (k, _), count in stored.items() if k == kind and count > 1),
        stored_unacknowledged=len(present - acked),
        statuses=Counter(a.status for a in attempts if not a.retry),
    )
