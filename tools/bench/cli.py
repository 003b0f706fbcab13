"""`python -m tools.bench` (`scripts/bench`): one command that starts the servers, measures, stops
them and prints the table."""

import json
import sys
from dataclasses import replace
from typing import Annotated

import typer

from referly.cli.output import JsonFlag, fail
from tools.bench import report
from tools.bench.databases import DEFAULT_POSTGRES_URL
from tools.bench.growth import Growth
from tools.bench.paths import DEFAULT_PATHS, PATHS
from tools.bench.runner import Bench, BenchOptions

DATABASES = ("sqlite", "postgresql")


def _names(value: str, known: tuple[str, ...], what: str, json_out: bool) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown:
        fail(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}", json_out)
    if not names:
        fail(f"no {what} given; choose from {', '.join(known)}", json_out)
    return names


def bench(
    smoke: Annotated[
        bool,
        typer.Option(
            "--smoke",
            help="A few seconds in all: checks that every path answers 2xx and that rows equal "
            "2xx answers; does not judge the speed targets.",
        ),
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Seconds measured per path (default 10; smoke 0.5).")
    ] = None,
    databases: Annotated[str, typer.Option(help="Comma-separated: sqlite, postgresql.")] = ",".join(
        DATABASES
    ),
    growth: Annotated[
        bool,
        typer.Option(
            "--growth",
            help="Measure again after pre-loading 1,000,000 clicks and 100,000 customers.",
        ),
    ] = False,
    paths: Annotated[
        str, typer.Option(help=f"Comma-separated, from: {', '.join(PATHS)}.")
    ] = ",".join(DEFAULT_PATHS),
    connections: Annotated[
        int | None, typer.Option(min=1, help="Open connections (default 64; smoke 16).")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level of both servers (info adds the access log).")
    ] = "warning",
    postgres_url: Annotated[
        str,
        typer.Option(
            envvar="REFERLY_BENCH_POSTGRES_URL",
            help="A PostgreSQL database to connect to for creating and dropping the bench "
            "database.",
        ),
    ] = DEFAULT_POSTGRES_URL,
    as_json: JsonFlag = False,
) -> None:
    """Measure the public endpoints against a bare ASGI app on SQLite and PostgreSQL."""
    options = replace(
        BenchOptions.smoke() if smoke else BenchOptions(),
        databases=_names(databases, DATABASES, "database", as_json),
        paths=_names(paths, tuple(PATHS), "path", as_json),
        growth=Growth() if growth else None,
        log_level=log_level,
        postgres_url=postgres_url,
    )
    if duration is not None:
        options = replace(options, seconds=duration)
    if connections is not None:
        options = replace(options, connections=connections)
    results = Bench(options).run()
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(results, smoke)) + "\n")
    else:
        sys.stdout.write(report.render(results, options, smoke) + "\n")
    if any(result.problems() for result in results):
        raise typer.Exit(code=1)
