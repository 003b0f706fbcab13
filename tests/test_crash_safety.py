"""No acknowledged write is lost, on SQLite and PostgreSQL: concurrent sign-ups, clicks and REST
creates go to a real `referly serve`, which is killed with SIGKILL mid-load and restarted; on
PostgreSQL the database itself also goes down with an immediate shutdown (a crash, as far as
its data is concerned) and comes back. Every request the clients saw answered 2xx must then
be in the database exactly once. This is the short version; `scripts/crash-test` runs longer.

PostgreSQL here is a private cluster made for the test (the shared server is never stopped);
missing PostgreSQL binaries are a skip locally and a failure in CI."""

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tools.faults.audit import audit
from tools.faults.cluster import ClusterUnavailable, find_bin_dir
from tools.faults.load import CLICK, CREATE, SIGNUP, Attempt
from tools.faults.report import details, table
from tools.faults.scenario import DATABASES, KILL, OUTAGE, Plan, RunResult, run

SHORT = Plan(seconds=4.0, kills=2, outages=1, outage_seconds=1.0, concurrency=8)


def require_postgres_binaries() -> None:
    try:
        find_bin_dir()
    except ClusterUnavailable as error:
        if IN_CI:
            pytest.fail(str(error))
        pytest.skip(str(error))


def summary(result: RunResult) -> str:
    return f"\n{table([result])}\n{details(result)}\nserver log:\n{result.server_log}"


@pytest.mark.parametrize("database", DATABASES)
async def test_every_acknowledged_write_survives_kills_and_database_crashes(
    database: str, tmp_path: Path
) -> None:
    if database == "postgresql":
        require_postgres_binaries()
    result = await run(database, SHORT, tmp_path)
    print(summary(result))
    assert result.disruptions[KILL] == SHORT.kills
    assert result.disruptions[OUTAGE] == (SHORT.outages if database == "postgresql" else 0)
    for counts in result.counts:
        assert counts.acknowledged > 0, summary(result)  # the load really ran, on every path
        assert counts.found == counts.acknowledged, summary(result)
        assert (counts.missing, counts.duplicated) == (0, 0), summary(result)
    # The kills came mid-load: some requests were cut off without an answer.
    assert sum(c.unanswered for c in result.counts) > 0, summary(result)


def test_the_audit_catches_a_lost_write_and_a_duplicate() -> None:
    """The verdict above is only as good as the audit: it must see both kinds of failure."""
    log = [
        Attempt(SIGNUP, "acked-stored", 202),
        Attempt(SIGNUP, "acked-lost", 202),
        Attempt(SIGNUP, "cut-off-stored", None),
        Attempt(SIGNUP, "refused", 503),
        Attempt(CLICK, "acked-twice", 202),
        Attempt(CLICK, "acked-once", 202),
        Attempt(CREATE, "retried", None),
        Attempt(CREATE, "retried", 201, retry=True),
    ]
    stored = Counter(
        {
            (SIGNUP, "acked-stored"): 1,
            (SIGNUP, "cut-off-stored"): 1,
            (CLICK, "acked-twice"): 2,
            (CLICK, "acked-once"): 1,
            (CREATE, "retried"): 1,
        }
    )
    signups, clicks, creates = audit(log, stored)
    assert (signups.sent, signups.acknowledged, signups.found, signups.missing) == (4, 2, 1, 1)
    assert (signups.refused, signups.unanswered, signups.stored_unacknowledged) == (1, 1, 1)
    assert (clicks.found, clicks.duplicated) == (1, 1)
    assert (creates.sent, creates.acknowledged, creates.found, creates.unanswered) == (2, 1, 1, 0)
    assert [c.passed for c in (signups, clicks, creates)] == [False, False, True]
