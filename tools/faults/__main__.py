"""`python -m tools.faults [--seconds N] [--kills K] [--databases sqlite,postgresql]`: the
crash test at length. Exits 1 when any acknowledged write is missing or duplicated."""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tools.faults.report import details, table
from tools.faults.scenario import DATABASES, Plan, RunResult, run


def parse(argv: list[str]) -> tuple[Plan, list[str], bool]:
    parser = argparse.ArgumentParser(prog="scripts/crash-test", description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of load per database")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the server per database")
    parser.add_argument(
        "--outages", type=int, default=1, help="PostgreSQL immediate shutdowns (PostgreSQL only)"
    )
    parser.add_argument("--outage-seconds", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16, help="clients sending at once")
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--verbose", action="store_true", help="print the server log's end")
    args = parser.parse_args(argv)
    plan = Plan(
        seconds=args.seconds,
        kills=args.kills,
        outages=args.outages,
        outage_seconds=args.outage_seconds,
        concurrency=args.concurrency,
    )
    return plan, [d.strip() for d in args.databases.split(",") if d.strip()], args.verbose


async def run_all(plan: Plan, databases: list[str], workdir: Path) -> list[RunResult]:
    results = []
    for database in databases:
        result = await run(database, plan, workdir)
        print(details(result), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    plan, databases, verbose = parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="referly-crash-") as workdir:
        results = asyncio.run(run_all(plan, databases, Path(workdir)))
    print()
    print(table(results))
    if verbose:
        for result in results:
            print(f"\n{result.database} server log (end):\n{result.server_log}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
