"""One crash run on one database: load, kills and database crashes on a schedule, a retry of
what got no answer, then the audit."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.db.migrate import upgrade_engine
from referly.domain import partners, programs, tokens
from referly.domain.partners import NewPartner
from referly.domain.programs import NewProgram
from tools.faults.audit import PathCounts, audit, stored_requests
from tools.faults.cluster import PrivateCluster
from tools.faults.load import Attempt, Load, Target, retry_unanswered
from tools.faults.server import ServerProcess

DATABASES = ("sqlite", "postgresql")
PARTNER_KEY = "crash-partner"
KILL, OUTAGE = "SIGKILL referly serve", "PostgreSQL immediate shutdown"
RECOVERED_LOAD_SECONDS = 1.0  # load kept running after the last disruption


@dataclass(frozen=True)
class Plan:
    seconds: float = 30.0  # of load, at least
    kills: int = 3  # SIGKILLs of the server, each followed by a restart
    outages: int = 1  # PostgreSQL immediate shutdowns (PostgreSQL only)
    outage_seconds: float = 1.0  # how long PostgreSQL stays down
    concurrency: int = 16
    max_requests: int = 1_000_000

    def events(self, database: str) -> list[tuple[float, str]]:
        """(seconds after the start, what happens), spread evenly over the load."""
        names = [KILL] * self.kills
        outages = self.outages if database == "postgresql" else 0
        for n in range(outages):
            names.insert((n + 1) * len(names) // (outages + 1) + n, OUTAGE)
        step = self.seconds / (len(names) + 1)
        return [((n + 1) * step, name) for n, name in enumerate(names)]


@dataclass(frozen=True)
class RunResult:
    database: str
    counts: list[PathCounts]
    disruptions: Counter[str]
    retries: Counter[int | None]
    seconds: float
    server_log: str

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.counts)


async def run(database: str, plan: Plan, workdir: Path) -> RunResult:
    with _database(database, workdir) as (url, cluster):
        target = await prepare_program(url)
        server = ServerProcess(url, workdir)
        with server:
            await asyncio.to_thread(server.start)
            started = time.monotonic()
            log, done = await _load_with_disruptions(plan, database, target, server, cluster)
            retries = await retry_unanswered(target.with_url(server.url), log)
            seconds = time.monotonic() - started
        stored = await stored_requests(url, target.public_id)
        return RunResult(
            database=database,
            counts=audit(log + retries, stored),
            disruptions=done,
            retries=Counter(a.status for a in retries),
            seconds=seconds,
            server_log=server.log_tail(),
        )


@contextmanager
def _database(database: str, workdir: Path) -> Iterator[tuple[str, PrivateCluster | None]]:
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'referly-crash.db'}", None
        return
    if database != "postgresql":
        raise ValueError(f"unknown database {database!r}: sqlite or postgresql")
    with PrivateCluster() as cluster:
        cluster.create().start()
        yield cluster.url, cluster


async def prepare_program(database_url: str) -> Target:
    """The schema, and a program with a token and one partner, made through the services."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        await upgrade_engine(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            program = await programs.create_program(session, NewProgram(name="Crash test"))
            issued = await tokens.create_token(session, program, "crash test")
            partner = NewPartner(email="partner@crash.example", key=PARTNER_KEY)
            await partners.create_partner(session, program, partner)
        return Target("http://127.0.0.1", program.public_id, PARTNER_KEY, issued.token)
    finally:
        await engine.dispose()


async def _load_with_disruptions(
    plan: Plan,
    database: str,
    target: Target,
    server: ServerProcess,
    cluster: PrivateCluster | None,
) -> tuple[list[Attempt], Counter[str]]:
    load = Load(
        target.with_url(server.url), uuid.uuid4().hex[:8], plan.concurrency, plan.max_requests
    )
    running = asyncio.create_task(load.run())
    actions: dict[str, Callable[[], None]] = {
        KILL: lambda: _crash_server(server),
        OUTAGE: lambda: _crash_database(cluster, plan.outage_seconds),
    }
    done: Counter[str] = Counter()
    started = time.monotonic()
    try:
        for at, name in plan.events(database):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await asyncio.to_thread(actions[name])
            done[name] += 1
        remaining = started + plan.seconds - time.monotonic()
        await asyncio.sleep(max(remaining, RECOVERED_LOAD_SECONDS))
    finally:
        load.stop.set()
        log = await running
    return log, done


def _crash_server(server: ServerProcess) -> None:
    server.kill()
    server.start()


def _crash_database(cluster: PrivateCluster | None, seconds: float) -> None:
    assert cluster is not None
    cluster.stop_immediately()
    time.sleep(seconds)
    cluster.start()
