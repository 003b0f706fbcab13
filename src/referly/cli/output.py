"""Output rules shared by every command: with `--json`, exactly one JSON object on stdout;
errors are one line on stderr and a non-zero exit."""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.db.migrate import upgrade_database
from referly.errors import ReferlyError

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(payload: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(human + "\n")


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


def run_in_session(work: Callable[[AsyncSession], Awaitable[T]], as_json: bool) -> T:
    """Bring the schema up to date, then run `work` in one committed transaction."""
    settings = Settings()
    try:
        upgrade_database(settings)
        return asyncio.run(_run(settings, work))
    except ReferlyError as error:
        fail(error.message, as_json)
        raise AssertionError("unreachable") from error


async def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
