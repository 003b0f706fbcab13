"""`scripts/bench --smoke` (`python -m tools.bench`): the real command, real servers, real
wrk, on both databases. Speed is not judged here (shared machines cannot); that every path
answers 2xx and that each 2xx answer left exactly one row is."""

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tools.bench.ceiling import app as ceiling_app
from tools.bench.paths import CEILING, DEFAULT_PATHS, PATHS, Fixture
from tools.bench.runner import PathResult
from tools.bench.wrk import LoadResult, lua_script, parse_result


def run_smoke(database: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REFERLY_BENCH_POSTGRES_URL": POSTGRES_URL}
    command = [sys.executable, "-m", "tools.bench", "--smoke", "--databases", database]
    return subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_smoke_mode_passes_on_every_path(database: str, request: pytest.FixtureRequest) -> None:
    if database == "postgresql":
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    done = run_smoke(database)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    [phase] = report["phases"]
    assert (phase["database"], phase["phase"], phase["problems"]) == (database, "empty", [])
    measured = {path["name"]: path for path in phase["paths"]}
    assert list(measured) == ["ceiling", *DEFAULT_PATHS]
    for name, path in measured.items():
        assert path["ok"] > 0, name
        assert path["non_2xx"] == path["socket_errors"] == path["timeouts"] == 0, name
        if name != "ceiling" and PATHS[name].table:
            assert path["rows_added"] == path["ok"], name
        assert path["target"] == "-"  # smoke mode does not judge speed


def test_the_table_shows_the_ceiling_and_each_path_and_says_checks_passed() -> None:
    command = [sys.executable, "-m", "tools.bench", "--smoke", "--databases", "sqlite"]
    done = subprocess.run(
        [*command, "--paths", "api-test"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke (targets not judged)" in done.stdout
    [ceiling] = [line for line in done.stdout.splitlines() if line.startswith("ceiling")]
    [path] = [line for line in done.stdout.splitlines() if line.startswith("GET /v1/test")]
    assert ceiling.split()[-1] == path.split()[-1] == "-"
    assert done.stdout.rstrip().endswith("checks: all passed")


def test_an_unknown_path_name_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--smoke", "--paths", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unknown path nope" in done.stderr


def load(**counts: int) -> LoadResult:
    fields = {"ok": 0, "non_2xx": 0, "socket_errors": 0, "timeouts": 0, "unanswered": 0}
    fields.update(counts)
    statuses = {404: fields["non_2xx"]} if fields["non_2xx"] else {200: fields["ok"]}
    return LoadResult(**fields, window_seconds=1.0, p50_ms=1.0, p99_ms=2.0, statuses=statuses)


def test_a_path_answering_only_404_is_reported_missing() -> None:
    result = PathResult(PATHS["click"], load(non_2xx=120), 0, 0, 1000.0)
    assert result.missing
    assert result.problems() == ["POST /t/{id}/clicks: missing (every answer was 404)"]


def test_rows_that_differ_from_2xx_answers_are_a_problem() -> None:
    result = PathResult(PATHS["api-customer"], load(ok=100, unanswered=2), 102, 0, 1000.0)
    assert result.problems() == [
        "POST /v1/customers: 102 rows added for 100 2xx answers (2 requests unanswered)"
    ]
    assert PathResult(PATHS["api-customer"], load(ok=100), 100, 0, 1000.0).problems() == []


def test_the_wrk_result_line_is_parsed() -> None:
    line = (
        'REFERLY_BENCH {"ok":10,"non_2xx":2,"sent":13,"answered":12,"socket_errors":1,'
        '"timeouts":1,"window":2.0,"p50_us":1500,"p99_us":9000,"statuses":"201:10,429:2"}'
    )
    result = parse_result("Running 1s test\n" + line + "\n")
    assert (result.ok, result.errors, result.unanswered) == (10, 4, 1)
    assert (result.per_second, result.p50_ms, result.p99_ms) == (5.0, 1.5, 9.0)
    assert result.statuses == {201: 10, 429: 2}


def test_each_request_of_a_creating_path_gets_a_new_key() -> None:
    fixture = Fixture(public_id="AB12CD34", partner_key="jane", token="rfl_x_y")
    script = lua_script(PATHS["js-signup"], fixture)
    assert "function request()" in script
    assert '"partner\\":{\\"key\\":\\"jane\\"}},\\"visitor\\":\\"s-"' in script
    assert "$unique" not in script and "$partner_key" not in script
    click = lua_script(PATHS["click"], fixture)  # a new visitor on every landing, as for real
    assert "function request()" in click and "jane" in click and "$unique" not in click
    static = lua_script(PATHS["universal-js"], fixture)
    assert "function request()" not in static
    assert 'wrk.headers["Authorization"] = "Bearer rfl_x_y"' in lua_script(
        PATHS["api-customer"], fixture
    )


async def test_the_ceiling_answers_204_to_anything() -> None:
    transport = httpx.ASGITransport(app=ceiling_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ceiling") as client:
        assert (await client.get(CEILING.path)).status_code == 204
        assert (await client.post("/t/X/clicks", content=b"{}")).status_code == 204
