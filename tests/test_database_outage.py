"""PostgreSQL going away and coming back, under a real `referly serve`: while the database is
down, the REST API and the public tracking endpoints answer 503 in the error shape, quickly;
once it is back they answer 2xx again by themselves, with no restart, and connections the
pool held across the outage are replaced unnoticed (`pool_pre_ping`).

PostgreSQL is a private cluster made for this module; the shared server is never stopped."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI
from tools.faults.cluster import ClusterUnavailable, PrivateCluster
from tools.faults.load import Target
from tools.faults.scenario import prepare_program
from tools.faults.server import ServerProcess

ANSWER_WITHIN = 5.0  # seconds: a database that is down must not make requests hang
PLAIN = {"Content-Type": "text/plain;charset=UTF-8"}


@dataclass
class Outage:
    cluster: PrivateCluster
    server: ServerProcess
    target: Target


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    try:
        made = PrivateCluster()
    except ClusterUnavailable as error:
        if IN_CI:
            pytest.fail(str(error))
        pytest.skip(str(error))
    with made:
        made.create().start()
        yield made


@pytest.fixture(scope="module")
async def outage(
    cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Outage]:
    target = await prepare_program(cluster.url)
    log_dir: Path = tmp_path_factory.mktemp("outage")
    with ServerProcess(cluster.url, log_dir) as server:
        await asyncio.to_thread(server.start)
        yield Outage(cluster, server, target.with_url(server.url))


@pytest.fixture
async def api(outage: Outage) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {outage.target.token}"}
    async with httpx.AsyncClient(
        base_url=outage.server.url, headers=headers, timeout=ANSWER_WITHIN
    ) as client:
        yield client
    if not outage.cluster.is_running():  # leave PostgreSQL up for the next test
        outage.cluster.start()


async def every_write_and_read(api: httpx.AsyncClient, target: Target) -> list[httpx.Response]:
    """One of each: a REST read and create, a public click and sign-up. New keys each time."""
    tag = uuid.uuid4().hex[:10]
    signup = {"key": f"su-{tag}", "email": f"su-{tag}@example.com", "partner": target.partner_key}
    click = {"key": target.partner_key, "url": f"https://shop.example/?probe={tag}"}
    create = {"key": f"api-{tag}", "partner": {"key": target.partner_key}}
    public = f"/t/{target.public_id}"
    return list(
        await asyncio.gather(
            api.get("/v1/customers"),
            api.post("/v1/customers", json=create),
            api.post(f"{public}/clicks", content=json.dumps(click), headers=PLAIN),
            api.post(f"{public}/signups", content=json.dumps(signup), headers=PLAIN),
        )
    )


def statuses(answers: list[httpx.Response]) -> list[int]:
    return [a.status_code for a in answers]


async def customer_keys(api: httpx.AsyncClient) -> set[str]:
    found = await api.get("/v1/customers", params={"limit": 250})
    assert found.status_code == 200, found.text
    return {c["key"] for c in found.json()["data"]}


async def test_it_answers_503_while_postgresql_is_down_and_recovers_without_a_restart(
    outage: Outage, api: httpx.AsyncClient
) -> None:
    assert statuses(await every_write_and_read(api, outage.target)) == [200, 201, 202, 202]
    before = await customer_keys(api)
    await asyncio.to_thread(outage.cluster.stop_immediately)
    for _ in range(3):
        started = time.monotonic()
        answers = await every_write_and_read(api, outage.target)
        assert time.monotonic() - started < ANSWER_WITHIN
        assert statuses(answers) == [503] * 4, [a.text for a in answers]
        for answer in answers:
            assert answer.headers["content-type"].startswith("application/json")
            body = answer.json()
            assert body["status"] == 0 and isinstance(body["message"], str) and body["message"]
    script = await api.get("/js/universal.js")
    assert script.status_code == 200  # the browser script needs no database
    await asyncio.to_thread(outage.cluster.start)
    # Back at once: the first requests after PostgreSQL accepts connections again succeed.
    assert statuses(await every_write_and_read(api, outage.target)) == [200, 201, 202, 202]
    assert outage.server.starts == 1 and outage.server.kills == 0  # no restart was needed
    # What was refused with 503 was not stored: two new customers, the ones from just now.
    assert len(await customer_keys(api) - before) == 2


async def test_connections_broken_by_a_database_restart_are_replaced_unnoticed(
    outage: Outage, api: httpx.AsyncClient
) -> None:
    """The pool holds connections that the restart silently broke; no request may see it."""
    rounds = await asyncio.gather(*(every_write_and_read(api, outage.target) for _ in range(4)))
    assert all(statuses(r) == [200, 201, 202, 202] for r in rounds)
    await asyncio.to_thread(outage.cluster.stop_immediately)
    await asyncio.to_thread(outage.cluster.start)
    rounds = await asyncio.gather(*(every_write_and_read(api, outage.target) for _ in range(4)))
    assert [statuses(r) for r in rounds] == [[200, 201, 202, 202]] * 4, [
        a.text for r in rounds for a in r if a.status_code >= 300
    ]
    assert outage.server.starts == 1
