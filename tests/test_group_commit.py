"""The group-commit writer on real SQLite and PostgreSQL: shared transactions, per-row
duplicates, failed commits, and that an answered insert is committed."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from referly.config import Settings
from referly.db.group_commit import (
    CommitFailed,
    Follow,
    GroupCommitWriter,
    InsertResult,
    RowRejected,
    WriterClosed,
)
from referly.db.group_commit_drivers import SqliteDriver, _match, _Unmatched
from referly.db.models import Click, Customer
from referly.db.raw import sqlite_utc_text
from referly.db.types import UTCDateTime
from referly.domain import partners, programs
from referly.domain.partners import NewPartner
from referly.domain.programs import NewProgram

clicks = Click
customers = Customer

# A deferred foreign key is checked at COMMIT, so a row that breaks it makes the commit fail.
probe_metadata = MetaData()
probe = Table(
    "group_commit_probe",
    probe_metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "parent_id",
        Integer,
        ForeignKey("group_commit_probe.id", deferrable=True, initially="DEFERRED"),
    ),
)


@dataclass
class Seeded:
    program_id: int
    partner_id: int


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[GroupCommitWriter]:
    group_writer = GroupCommitWriter.for_url(settings.database_url)
    await group_writer.start()
    yield group_writer
    await group_writer.close()


@pytest.fixture
async def seeded(app: FastAPI) -> Seeded:
    async with app.state.sessionmaker() as session, session.begin():
        program = await programs.create_program(session, NewProgram(name="Carol's program"))
        partner = await partners.create_partner(
            session, program, NewPartner(email=f"{uuid.uuid4().hex[:8]}@example.com")
        )
    return Seeded(program.id, partner.id)


def click_row(seeded: Seeded, n: int) -> dict[str, Any]:
    return {
        "program_id": seeded.program_id,
        "partner_id": seeded.partner_id,
        "landing_url": f"https://shop.example/?aff=x&n={n}",
        "visitor_id": f"v{n}",
    }


def customer_row(seeded: Seeded, key: str) -> dict[str, Any]:
    return {
        "program_id": seeded.program_id,
        "partner_id": seeded.partner_id,
        "key": key,
        "email": f"{key}@example.com",
        "email_ci": f"{key}@example.com",
        "tags": ["js"],
        "source": "js",
    }


async def count(app: FastAPI, model: type[Click | Customer], program_id: int) -> int:
    async with app.state.sessionmaker() as session:
        statement = select(func.count()).select_from(model).where(model.program_id == program_id)
        return int(await session.scalar(statement) or 0)


async def test_concurrent_inserts_share_commits_and_each_answered_row_is_stored_once(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    results = await asyncio.gather(
        *(writer.insert(clicks, click_row(seeded, n)) for n in range(500))
    )
    ids = [result.id for result in results]
    assert None not in ids and len(set(ids)) == 500
    async with app.state.sessionmaker() as session:
        stored = (
            await session.scalars(select(Click).where(Click.program_id == seeded.program_id))
        ).all()
    assert sorted(click.id for click in stored) == sorted(ids)  # type: ignore[type-var]
    assert {click.visitor_id for click in stored} == {f"v{n}" for n in range(500)}
    assert writer.stats.rows >= 500 and writer.stats.largest_batch > 1
    assert writer.stats.batches < 500  # rows shared transactions


async def test_values_go_through_the_column_types_and_defaults(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    landed = datetime(2025, 5, 2, 16, 12, 39, 123456, tzinfo=UTC)
    result = await writer.insert(clicks, {**click_row(seeded, 1), "created_at": landed})
    customer = await writer.insert(customers, customer_row(seeded, "typed"))
    async with app.state.sessionmaker() as session:
        click = await session.get(Click, result.id)
        stored = await session.get(Customer, customer.id)
    assert click is not None and click.created_at == landed
    assert stored is not None and stored.tags == ["js"] and stored.status == "active"
    assert stored.created_at.tzinfo is not None


async def test_a_duplicate_key_is_reported_for_its_row_and_the_rest_of_the_batch_commits(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    assert not (await writer.insert(customers, customer_row(seeded, "taken"))).duplicate
    batches_before = writer.stats.batches
    keys = ["a1", "taken", "a2", "twin", "twin", "a3"]
    results = await asyncio.gather(
        *(writer.insert(customers, customer_row(seeded, k)) for k in keys)
    )
    assert writer.stats.batches == batches_before + 1  # all in one transaction
    outcome = [result.duplicate for result in results]
    assert outcome == [False, True, False, False, True, False]
    assert await count(app, customers, seeded.program_id) == 1 + 4


async def test_a_row_the_database_refuses_fails_alone(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    orphan = {**click_row(seeded, 0), "partner_id": 2_000_000_000}
    rows = [click_row(seeded, 1), orphan, click_row(seeded, 2)]
    results = await asyncio.gather(
        *(writer.insert(clicks, row) for row in rows), return_exceptions=True
    )
    assert isinstance(results[0], InsertResult) and isinstance(results[2], InsertResult)
    assert isinstance(results[1], RowRejected) and results[1].status_code == 503
    assert await count(app, clicks, seeded.program_id) == 2


async def test_a_value_the_driver_cannot_encode_fails_its_row_alone(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    """A lone surrogate reaches neither SQLite nor PostgreSQL: the driver refuses to encode
    it. That is this row's error, like a constraint, and must not fail its batch."""
    poisoned = {**click_row(seeded, 0), "landing_url": "https://shop.example/\ud800"}
    rows = [click_row(seeded, 1), poisoned, click_row(seeded, 2), click_row(seeded, 3)]
    results = await asyncio.gather(
        *(writer.insert(clicks, row) for row in rows), return_exceptions=True
    )
    assert isinstance(results[1], RowRejected), results
    assert all(isinstance(results[n], InsertResult) for n in (0, 2, 3)), results
    assert await count(app, clicks, seeded.program_id) == 3


follower_metadata = MetaData()
follower = Table(
    "group_commit_follower",
    follower_metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey(Customer.__table__.c.id), nullable=False),
    Column("note", String(8)),
)


async def followers_of(app: FastAPI, seeded: Seeded) -> dict[str, str | None]:
    async with app.state.engine.begin() as connection:
        found = await connection.execute(
            select(customers.key, follower.c.note)
            .join(follower, follower.c.customer_id == customers.id)
            .where(customers.program_id == seeded.program_id)
        )
        return {key: note for key, note in found}


async def test_following_rows_go_in_with_their_row_only(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    """A row that follows another (an outbox event, say) commits with it, takes its new id,
    and stays out when that row was a duplicate."""
    async with app.state.engine.begin() as connection:
        await connection.run_sync(follower_metadata.create_all)
    await writer.insert(customers, customer_row(seeded, "first"))
    keys = ["f1", "first", "f2", "f2", "f3"]
    results = await asyncio.gather(
        *(
            writer.insert(
                customers,
                customer_row(seeded, key),
                follow=[Follow(follower, {"note": f"n-{key}"}, link="customer_id")],
            )
            for key in keys
        )
    )
    assert [r.duplicate for r in results] == [False, True, False, True, False]
    assert await followers_of(app, seeded) == {"f1": "n-f1", "f2": "n-f2", "f3": "n-f3"}


async def test_a_following_row_that_fails_takes_its_row_with_it_and_no_other(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    async with app.state.engine.begin() as connection:
        await connection.run_sync(follower_metadata.create_all)
    bad_note = "n" * 9 if app.state.settings.database_url.startswith("postgres") else None
    notes = ["ok", bad_note, "ok2"]
    follow = [
        [Follow(follower, {"note": note}, link="customer_id")]
        if note is not None
        else [Follow(follower, {"note": "x", "customer_id": 2_000_000_000})]
        for note in notes
    ]
    results = await asyncio.gather(
        *(
            writer.insert(customers, customer_row(seeded, f"g{n}"), follow=follow[n])
            for n in range(3)
        ),
        return_exceptions=True,
    )
    assert isinstance(results[1], RowRejected), results
    assert isinstance(results[0], InsertResult) and isinstance(results[2], InsertResult)
    assert await followers_of(app, seeded) == {"g0": "ok", "g2": "ok2"}


async def test_a_failed_commit_fails_every_row_of_its_batch(
    app: FastAPI, writer: GroupCommitWriter
) -> None:
    await create_probe(app)
    failed_before, before = writer.stats.failed_batches, await probe_rows(app)
    rows: list[dict[str, int | None]] = [
        {"parent_id": None},
        {"parent_id": 2_000_000_000},
        {"parent_id": None},
    ]
    results = await asyncio.gather(
        *(writer.insert(probe, row) for row in rows), return_exceptions=True
    )
    assert all(isinstance(result, CommitFailed) for result in results), results
    assert writer.stats.failed_batches == failed_before + 1
    assert await probe_rows(app) == before
    assert not (await writer.insert(probe, {"parent_id": None})).duplicate  # writer goes on


# A table whose inserts a trigger copies to another table.
audited_metadata = MetaData()
audited = Table(
    "group_commit_audited",
    audited_metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True),
)
audit = Table(
    "group_commit_audit",
    audited_metadata,
    Column("id", Integer, primary_key=True),
    Column("audited_id", Integer),
)


async def create_probe(app: FastAPI) -> None:
    async with app.state.engine.begin() as connection:
        await connection.run_sync(probe_metadata.create_all)


async def probe_rows(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(probe)) or 0)


@pytest.mark.only_backend("postgresql")  # an embedded SQLite file has no connection to lose
async def test_a_connection_lost_mid_batch_fails_the_batch_and_the_writer_reconnects(
    app: FastAPI, backend: str, writer: GroupCommitWriter
) -> None:
    await create_probe(app)
    await writer.insert(probe, {"parent_id": None})
    server_pid = writer.driver.server_pid  # type: ignore[attr-defined]
    before = await probe_rows(app)
    async with app.state.engine.connect() as locker:
        # Hold the table so the writer's batch waits inside its transaction, then kill it there.
        await locker.execute(text("LOCK TABLE group_commit_probe IN ACCESS EXCLUSIVE MODE"))
        batch = asyncio.gather(
            *(writer.insert(probe, {"parent_id": None}) for _ in range(5)), return_exceptions=True
        )
        await wait_until_blocked(locker, server_pid)
        await locker.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": server_pid})
        results = await batch
        await locker.rollback()
    assert all(isinstance(result, CommitFailed) for result in results), results
    assert await probe_rows(app) == before
    assert (await writer.insert(probe, {"parent_id": None})).id is not None
    assert writer.driver.server_pid != server_pid  # type: ignore[attr-defined]


async def wait_until_blocked(connection: AsyncConnection, pid: int) -> None:
    query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    for _attempt in range(500):
        if await connection.scalar(query, {"pid": pid}) == "Lock":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never waited for the lock")


async def test_a_closed_writer_refuses_inserts(settings: Settings, seeded: Seeded) -> None:
    closed = GroupCommitWriter.for_url(settings.database_url)
    with pytest.raises(WriterClosed):
        await closed.insert(clicks, click_row(seeded, 0))
    await closed.start()
    await closed.close()
    with pytest.raises(WriterClosed):
        await closed.insert(clicks, click_row(seeded, 0))


def test_it_refuses_an_in_memory_sqlite_database() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        GroupCommitWriter.for_url("sqlite:///:memory:")


def test_returned_rows_are_matched_to_inputs_and_equal_inputs_are_interchangeable() -> None:
    rows = [("a", 1), ("b", 2), ("a", 1), ("c", 3)]
    returned = [(10, "a", 1), (11, "b", 2), (12, "a", 1)]  # ("c", 3) met a unique constraint
    assert _match([0, 1, 2, 3], rows, returned) == [(0, 10), (1, 11), (2, 12)]
    with pytest.raises(_Unmatched):  # a value the database changed: go row by row instead
        _match([0], [("a ", 1)], [(10, "a", 1)])


async def test_a_barrier_waits_for_the_commit_of_its_batch_and_writes_nothing(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    """A request that stores nothing waits on the same schedule as its neighbours that do."""
    rows = [click_row(seeded, n) for n in range(20)]
    batches_before = writer.stats.batches
    answers = await asyncio.gather(
        *(writer.insert(clicks, row) for row in rows[:10]),
        writer.barrier(),
        *(writer.insert(clicks, row) for row in rows[10:]),
    )
    assert answers[10] is None
    assert writer.stats.batches - batches_before <= 2  # the barrier shared a batch
    assert await count(app, clicks, seeded.program_id) == 20
    await writer.barrier()  # alone in its batch: a commit of the tick alone


async def test_a_barrier_fails_with_the_commit_of_its_batch(
    writer: GroupCommitWriter, seeded: Seeded
) -> None:
    real_run = writer.driver.run

    async def failing(inserts: Any) -> Any:
        raise OSError("disk on fire")

    writer.driver.run = failing  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(
            writer.insert(clicks, click_row(seeded, 1)), writer.barrier(), return_exceptions=True
        )
    finally:
        writer.driver.run = real_run  # type: ignore[method-assign]
    assert all(isinstance(answer, CommitFailed) for answer in answers)


@pytest.mark.only_backend("sqlite")
async def test_on_sqlite_rows_of_one_shape_share_one_statement_per_chunk(
    app: FastAPI, writer: GroupCommitWriter, seeded: Seeded
) -> None:
    """Not one INSERT per row: a batch's rows go in a few multi-row statements, and each call
    still learns its own row's id."""
    await writer.insert(clicks, click_row(seeded, 0))  # the connection is open
    connection = writer.driver._connection  # type: ignore[attr-defined]
    executed: list[str] = []
    connection.set_trace_callback(executed.append)
    batches_before = writer.stats.batches
    try:
        results = await asyncio.gather(
            *(writer.insert(clicks, click_row(seeded, n)) for n in range(1, 301))
        )
    finally:
        connection.set_trace_callback(None)
    inserts = [statement for statement in executed if "INSERT INTO" in statement]
    batches = writer.stats.batches - batches_before
    assert len(inserts) <= batches * 8 < 300 / 4  # at most one per power of two per batch
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(Click.visitor_id, Click.id))).all()
    stored = {visitor: id_ for visitor, id_ in rows}
    for n, result in enumerate(results, 1):
        assert result.id == stored[f"v{n}"]


@pytest.mark.only_backend("sqlite")
async def test_on_sqlite_rows_a_trigger_adds_do_not_count_as_inserted(
    app: FastAPI, writer: GroupCommitWriter
) -> None:
    """Which rows a multi-row statement inserted comes from its own row count: a trigger's
    rows elsewhere must not make duplicates look inserted."""
    async with app.state.engine.begin() as connection:
        await connection.run_sync(audited_metadata.create_all)
        await connection.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS audited_insert AFTER INSERT ON group_commit_audited "
                "BEGIN INSERT INTO group_commit_audit (audited_id) VALUES (new.id); END"
            )
        )
    await writer.insert(audited, {"name": "warm"})  # the connection is open
    names = ["x", "x", "x", "y"]  # 2 rows inserted + 2 trigger rows = 4 changes
    results = await asyncio.gather(*(writer.insert(audited, {"name": n}) for n in names))
    assert [result.duplicate for result in results] == [False, True, True, False]
    async with app.state.sessionmaker() as session:
        stored = dict((await session.execute(select(audited.c.name, audited.c.id))).all())
    assert {"x": results[0].id, "y": results[3].id}.items() <= stored.items()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 5, 2, 16, 12, 7, 123456, tzinfo=UTC),
        datetime(2025, 5, 2, 16, 12, 7, tzinfo=UTC),
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 30, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_the_sqlite_datetime_text_is_the_column_types_own(value: datetime) -> None:
    dialect = SqliteDriver.dialect
    own = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert own is not None
    assert sqlite_utc_text(value) == own(value)
    assert sqlite_utc_text(None) is None
    with pytest.raises(ValueError, match="naive"):
        sqlite_utc_text(value.replace(tzinfo=None))
