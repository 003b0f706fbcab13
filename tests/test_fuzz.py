"""Fuzzing: schemathesis generates requests from Referly's own OpenAPI document and sends them
in-process to a server on this backend's database.

Every operation gets valid requests (positive) and schema-violating ones (negative, which also
drops the token), some of them aimed at objects that exist. Every answer must be below 500, have
a status code, content type and headers the document declares for that operation, and a body
that matches the declared schema. Failures are collected across all operations and reported
together, so one run shows everything it found."""

import asyncio
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, HookContext
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.schemas import APIOperation

from referly.app import create_app
from referly.config import Settings
from tests.builders import ProgramFixture, make_program

# Per operation and mode: about 1,000 requests per backend. Raise it for a deeper local run.
MAX_EXAMPLES = int(os.environ.get("REFERLY_FUZZ_EXAMPLES", "25"))
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
KNOWN_PARTNER_KEY = "fuzz-partner"
PARAMETER = re.compile(r"([^/{}]+)/\{(\w+)\}")
UNLIMITED = {
    "api_rate_limit_per_minute": 10**9,
    "api_rate_limit_burst": 10**9,
    "api_auth_failures_per_minute": 10**9,
    "tracking_rate_per_minute": 0,
}


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    without_negative_cases: list[str] = field(default_factory=list)
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # "operation [mode]" -> first one

    def summary(self) -> str:
        found = "\n\n".join(f"{name}\n{text}" for name, text in self.failures.items())
        seen = "\n".join(f"  {n}: {dict(sorted(c.items()))}" for n, c in self.by_operation.items())
        return (
            f"{len(self.operations)} operations, {self.examples} examples, "
            f"{len(self.failures)} failing operation/mode pairs, statuses "
            f"{dict(sorted(self.statuses.items()))}\n{seen}\n{found}"
        )


@dataclass
class Known:
    """Objects that exist in the fuzzed program, so some requests are about real ones."""

    by_collection: dict[tuple[str, str], str]

    def path_parameters(self, operation: APIOperation) -> dict[str, str] | None:
        found = PARAMETER.findall(operation.path)
        values = {name: self.by_collection.get((where, name)) for where, name in found}
        if not found or None in values.values():
            return None
        return {name: value for name, value in values.items() if value is not None}


async def seed(program: ProgramFixture) -> Known:
    partner = await program.partner("fuzz-partner@example.com", key=KNOWN_PARTNER_KEY)
    link = {"partner": {"id": partner["id"]}, "key": "fuzz-link"}
    customer = {"key": "fuzz-customer", "partner": {"key": KNOWN_PARTNER_KEY}}
    for path, body in (("/v1/partner_referral_links", link), ("/v1/customers", customer)):
        response = await program.api.post(path, json=body)
        assert response.status_code == 201, response.text
    return Known(
        {
            ("partners", "id"): partner["id"],
            ("customers", "key"): "fuzz-customer",
            ("partner_referral_links", "key"): "fuzz-link",
            ("t", "public_id"): program.public_id,
        }
    )


def fuzz_operation(operation: APIOperation, token: str, known: Known, report: FuzzReport) -> None:
    fixed = known.path_parameters(operation)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(generation_mode=mode)
        if fixed is not None:
            aimed = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            strategy = st.one_of(strategy, aimed)
        run_examples(strategy, f"{operation.label} [{mode.value}]", token, report)


def run_examples(
    strategy: st.SearchStrategy[Any], name: str, token: str, report: FuzzReport
) -> None:
    checks = [CHECKS.get_one(check) for check in CHECK_NAMES]
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        report.examples += 1
        try:
            response = case.call_and_validate(headers=headers, checks=checks)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups its findings
            report.failures.setdefault(name, str(failure)[:3000])
        else:
            report.statuses[response.status_code] += 1
            report.by_operation.setdefault(name, Counter())[response.status_code] += 1

    try:
        send()
    except Unsatisfiable:
        # No request breaks the schema of an operation whose only input is a free string
        # (`GET /t/{public_id}/settings`): there is no negative case to send.
        if "[negative]" not in name:
            raise
        report.without_negative_cases.append(name)


def aim_at_the_known_partner(_: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Bodies that name a partner name the real one half the time, so creates get through."""
    if isinstance(body, dict) and isinstance(body.get("partner"), dict):
        return st.sampled_from([body, {**body, "partner": {"key": KNOWN_PARTNER_KEY}}])
    return st.just(body)


def fuzz(application: FastAPI, token: str, known: Known) -> FuzzReport:
    load_all_checks()
    schema = schemathesis.openapi.from_asgi("/openapi.json", application)
    schema.hook("flatmap_body")(aim_at_the_known_partner)
    report = FuzzReport()
    operations = [result.ok() for result in schema.get_all_operations()]
    # The script takes no input at all: nothing to fuzz (tests/test_tracking_script.py).
    operations = [op for op in operations if op.path != "/js/universal.js"]
    # Deletes last, so the known objects live while the other operations are aimed at them.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        report.operations.append(operation.label)
        fuzz_operation(operation, token, known, report)
    return report


async def test_the_api_survives_fuzzing_within_its_own_contract(
    app: FastAPI, settings: Settings, backend: str
) -> None:
    # Its own server, without rate limits, reached from schemathesis' own event loop thread.
    target = create_app(settings.model_copy(update=UNLIMITED))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        program = await make_program(app, client, "Fuzzed program")
        known = await seed(program)
    started = time.monotonic()
    report = await asyncio.to_thread(fuzz, target, program.token, known)
    elapsed = time.monotonic() - started
    print(f"\nfuzz [{backend}] in {elapsed:.1f}s: {report.summary()}")
    assert not report.failures, report.summary()
    assert {"POST /v1/partners", "GET /v1/partners/{id}", "PUT /v1/partners/{id}"} <= set(
        report.operations
    )
    assert report.examples >= len(report.operations) * MAX_EXAMPLES
    assert {200, 201, 401, 404, 422} <= set(report.statuses), report.statuses
