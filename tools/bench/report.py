"""The benchmark's table (one per database, empty and grown side by side) and its JSON."""

from collections.abc import Sequence
from typing import Any

from tools.bench.runner import BenchOptions, PathResult, PhaseResult

MB = 1024 * 1024
PHASE_COLUMNS = (
    "2xx/s", "ratio", "p50 ms", "p99 ms", "errors", "2xx", "rows", "RSS MB", "cpu%", "wait%",
    "target",
)  # fmt: skip
PHASE_WIDTHS = (8, 6, 7, 7, 7, 9, 9, 7, 5, 5, 6)
PATH_WIDTH, TARGET_WIDTH = 28, 12


def meets_target(result: PathResult) -> str:
    target = result.path.target
    if target is None:
        return "-"
    ok = (
        result.ratio >= target.min_ratio
        and result.load.p99_ms <= target.max_p99_ms
        and result.peak_rss <= target.max_rss_mb * MB
    )
    return "met" if ok else "MISSED"


def _phase_cells(result: PathResult | None, judge: bool) -> list[str]:
    if result is None:
        return [""] * len(PHASE_COLUMNS)
    load = result.load
    return [
        f"{load.per_second:,.0f}",
        f"{result.ratio:.2f}",
        f"{load.p50_ms:.1f}",
        f"{load.p99_ms:.1f}",
        f"{load.errors:,}",
        f"{load.ok:,}",
        "-" if result.rows_added is None else f"{result.rows_added:,}",
        f"{result.peak_rss / MB:.0f}",
        f"{result.cpu_share * 100:.0f}",
        f"{result.wait_share * 100:.0f}",
        meets_target(result) if judge else "-",
    ]


def _target_cell(result: PathResult) -> str:
    target = result.path.target
    return "" if target is None else f">={target.min_ratio:.2f} <={target.max_p99_ms:g}ms"


def _line(first: str, second: str, groups: Sequence[Sequence[str]]) -> str:
    cells = [first.ljust(PATH_WIDTH), second.ljust(TARGET_WIDTH)]
    for group in groups:
        cells += [cell.rjust(width) for cell, width in zip(group, PHASE_WIDTHS, strict=True)]
        cells.append(" ")
    return " ".join(cells).rstrip()


def render(results: Sequence[PhaseResult], options: BenchOptions, smoke: bool) -> str:
    lines = [_header(options, smoke)]
    for database in dict.fromkeys(r.database for r in results):
        phases = [r for r in results if r.database == database]
        lines += ["", _phase_titles(database, phases)]
        lines.append(_line("path", "target", [PHASE_COLUMNS] * len(phases)))
        rows: list[list[PathResult]] = [[p.ceiling for p in phases]]
        rows += [list(group) for group in zip(*(p.paths for p in phases), strict=True)]
        for row in rows:
            label = "ceiling (bare ASGI, 204)" if row[0].path.server == "ceiling" else None
            groups = [_phase_cells(result, judge=not smoke) for result in row]
            lines.append(_line(label or row[0].path.label, _target_cell(row[0]), groups))
    problems = [problem for result in results for problem in result.problems()]
    lines += ["", *(f"PROBLEM {p}" for p in problems)] if problems else ["", "checks: all passed"]
    return "\n".join(lines)


def _header(options: BenchOptions, smoke: bool) -> str:
    mode = "smoke (targets not judged)" if smoke else "full"
    return (
        f"scripts/bench, {mode}: uvicorn 1 worker pinned to one CPU, wrk -t1 "
        f"-c{options.connections} pinned to the other, {options.seconds:g} s per path, "
        f"server log level {options.log_level}. 2xx/s counts 2xx answers only; "
        "ratio = 2xx/s over the ceiling's, same run; a target is met when the ratio, the p99 "
        "and the server's peak RSS (<=150 MB) all are."
    )


def _phase_titles(database: str, phases: Sequence[PhaseResult]) -> str:
    titles = [f"{database}: {p.phase}" for p in phases]
    width = sum(PHASE_WIDTHS) + len(PHASE_WIDTHS) + 1
    return " " * (PATH_WIDTH + TARGET_WIDTH + 2) + "".join(t.ljust(width) for t in titles)


def as_json(results: Sequence[PhaseResult], smoke: bool) -> dict[str, Any]:
    return {
        "phases": [
            {
                "database": phase.database,
                "phase": phase.phase,
                "paths": [_path_json(r, not smoke) for r in [phase.ceiling, *phase.paths]],
                "problems": phase.problems(),
            }
            for phase in results
        ],
        "ok": not any(phase.problems() for phase in results),
    }


def _path_json(result: PathResult, judge: bool) -> dict[str, Any]:
    load = result.load
    return {
        "name": result.path.name,
        "label": result.path.label,
        "per_second": round(load.per_second, 1),
        "ratio": round(result.ratio, 3),
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "ok": load.ok,
        "non_2xx": load.non_2xx,
        "socket_errors": load.socket_errors,
        "timeouts": load.timeouts,
        "statuses": {str(k): v for k, v in load.statuses.items()},
        "rows_added": result.rows_added,
        "peak_rss_bytes": result.peak_rss,
        "cpu_share": round(result.cpu_share, 3),
        "wait_share": round(result.wait_share, 3),
        "missing": result.missing,
        "target": meets_target(result) if judge else "-",
    }
