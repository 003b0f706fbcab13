"""The counts table, one line per database and path, and what happened during each run."""

from collections import Counter

from tools.faults.load import PATHS
from tools.faults.scenario import RunResult

COLUMNS = (
    ("database", 10),
    ("path", 22),
    ("sent", 6),
    ("acknowledged", 12),
    ("found", 6),
    ("missing", 7),
    ("duplicated", 10),
    ("refused", 7),
    ("no answer", 9),
    ("stored unacked", 14),
)


def table(results: list[RunResult]) -> str:
    lines = [_row([name for name, _ in COLUMNS])]
    for result in results:
        for c in result.counts:
            cells = [result.database, PATHS[c.kind], c.sent, c.acknowledged, c.found, c.missing]
            lines.append(
                _row([*cells, c.duplicated, c.refused, c.unanswered, c.stored_unacknowledged])
            )
    return "\n".join(lines)


def _row(cells: list[object]) -> str:
    parts = []
    for (_, width), cell in zip(COLUMNS, cells, strict=True):
        text = str(cell)
        parts.append(text.ljust(width) if isinstance(cell, str) else text.rjust(width))
    return "  ".join(parts)


def details(result: RunResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    done = ", ".join(f"{count} x {name}" for name, count in sorted(result.disruptions.items()))
    lines = [f"{result.database}: {verdict} in {result.seconds:.1f} s; {done or 'no disruption'}"]
    for c in result.counts:
        lines.append(f"  {PATHS[c.kind]:<22} answers: {_statuses(c.statuses)}")
    retried = _statuses(result.retries) or "none needed"
    lines.append(f"  retries of unanswered or 5xx sign-ups and creates: {retried}")
    return "\n".join(lines)


def _statuses(counts: Counter[int | None]) -> str:
    ordered = sorted(counts.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return ", ".join(f"{status or 'no answer'} x{count}" for status, count in ordered)


def render(results: list[RunResult]) -> str:
    return "\n".join([table(results), "", *(details(r) for r in results)])
