"""Output rules shared by every command: with `--json`, exactly one JSON object on stdout;
otherwise text for people (lists as aligned tables with headers, newest first); errors are one
line on stderr and a non-zero exit. Nothing read from the database reaches a terminal with its
control characters: they are shown escaped (`\\x1b`)."""

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncSession

from referly.cli.progress import Steps
from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.db.migrate import upgrade_database
from referly.domain.pagination import MAX_LIMIT
from referly.errors import ReferlyError

T = TypeVar("T")

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout, for scripts.")
]
PageOpt = Annotated[
    int, typer.Option("--page", min=1, metavar="N", help="Which page of the list; 1 is the first.")
]
LimitOpt = Annotated[
    int,
    typer.Option("--limit", min=1, max=MAX_LIMIT, metavar="N", help="Rows per page, 1 to 250."),
]
OldestFirstOpt = Annotated[
    bool, typer.Option("--oldest-first", help="List the oldest first (the newest come first).")
]
ProgramOpt = Annotated[
    str, typer.Option("--program", metavar="ID", help="The program's public id.")
]
# C0 and C1 controls and DEL: a terminal takes them for commands (colours, cursor moves, even
# its title); anything else prints as itself.
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    """A value as it may reach a terminal: control characters escaped, None as nothing."""
    if value is None:
        return ""
    return UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """Rows as an aligned table under a header line; every cell printable and plain (a value
    with `[brackets]` is shown as it is, not read as markup)."""
    shown = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        shown.add_column(header, overflow="fold")
    for row in rows:
        shown.add_row(*(Text(printable(cell)) for cell in row))
    return shown


def emit(payload: dict[str, Any], as_json: bool, human: str | Table) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    elif isinstance(human, Table):
        console().print(human)
    else:
        sys.stdout.write(printable(human) + "\n")


def console() -> Console:
    """Standard output; to a pipe or a file, lines are never wrapped or coloured."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, no_color=True, width=100_000, soft_wrap=True)


def when(moment: datetime | None) -> str:
    """A moment for people: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def fail(message: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code=1)


def parse(model: type[BaseModel], data: dict[str, Any], as_json: bool) -> Any:
    """Validate CLI input with the API's own wire schema, so both give the same answers."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        fail(f"{field}: {str(first['msg']).removeprefix('Value error, ')}", as_json)


def upgrade_schema(settings: Settings) -> None:
    """Bring the schema up to date, with a progress line for each migration applied."""
    with Steps("migrating the database") as steps:
        upgrade_database(settings, steps)


def run_in_session(work: Callable[[AsyncSession], Awaitable[T]], as_json: bool) -> T:
    """Bring the schema up to date, then run `work` in one committed transaction."""
    settings = Settings()
    try:
        upgrade_schema(settings)
        return asyncio.run(_run(settings, work))
    except ReferlyError as error:
        fail(describe(error), as_json)
        raise AssertionError("unreachable") from error


def describe(error: ReferlyError) -> str:
    """The error's message, and what its fields say besides."""
    problems = getattr(error, "errors", None) or {}
    details = [
        f"{field}: {line}"
        for field, lines in problems.items()
        for line in lines
        if line != error.message
    ]
    return f"{error.message} ({'; '.join(details)})" if details else error.message


async def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
