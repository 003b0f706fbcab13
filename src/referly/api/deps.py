"""Request-scoped dependencies: the database session, the domain's read and write ports, and
the program a token selects."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Program
from referly.db.reads import Reader, SessionReader
from referly.db.writes import RowWriter, SessionWriter
from referly.domain import tokens
from referly.domain.fields import MAX_CUSTOMER_KEY, has_unplain_text, unplain_text_problem
from referly.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE
from referly.errors import Unauthorized, ValidationFailed
from referly.web import idempotency
from referly.web.client_ip import client_ip

bearer = HTTPBearer(auto_error=False, description="The program's API token")
READS = ("GET", "HEAD")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the route returns and before the answer is
    sent, so a 2xx always means committed (a POST with an idempotency key: committed with its
    answer, see `referly.web.idempotency`). Reads take no write lock."""
    state = request.app.state
    sessionmaker = state.read_sessionmaker if request.method in READS else state.sessionmaker
    async with idempotency.request_session(request, sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_ports(request: Request) -> tuple[Reader, RowWriter]:
    """Where a hot create reads its facts and writes its row: the fast reader and the
    group-commit writer, whose commits are shared by concurrent requests. A POST with an
    idempotency key runs in its key's transaction instead, through the session, so that the key,
    the work and the answer commit together."""
    keyed = idempotency.keyed_request(request)
    if keyed is None:
        return request.app.state.reader, request.app.state.rows
    return SessionReader(keyed.session), SessionWriter(keyed.session)


PortsDep = Annotated[tuple[Reader, RowWriter], Depends(get_ports)]


def refuse_unplain_text(request: Request) -> None:
    """Path and query values must be plain text too: control characters name nothing we store
    (bodies refuse them as well), and PostgreSQL cannot even compare text holding U+0000."""
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        if has_unplain_text(value):
            raise ValidationFailed.field(name, unplain_text_problem(name))


async def get_program(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Program:
    """The token's program, read through the fast reader (no session is opened for it). Also
    where every authenticated request's path and query are screened and a POST's idempotency
    key is reserved or replayed."""
    state = request.app.state
    try:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized()
        program = await tokens.authenticate(state.reader, credentials.credentials)
    except Unauthorized:
        state.rate_limits.refuse_guessing(client_ip(request.scope, state.settings))
        raise
    refuse_unplain_text(request)
    keyed = idempotency.keyed_request(request)
    if keyed is not None:
        await idempotency.claim(request, keyed.session, program.id)
    return program


ProgramDep = Annotated[Program, Depends(get_program)]


@dataclass(frozen=True)
class PageParams:
    limit: int
    page: int


async def get_page(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page", examples=[DEFAULT_LIMIT])
    ] = DEFAULT_LIMIT,
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="The page to answer, from 1", examples=[1])
    ] = 1,
) -> PageParams:
    return PageParams(limit, page)


# Dependencies are async functions: FastAPI runs a plain function (or a class) in a thread.
PageDep = Annotated[PageParams, Depends(get_page)]


@dataclass(frozen=True)
class SearchParams:
    """What a `:search` verb looks a record up by (Partnero's: `id`, `key`, `email` and, for
    partners, `name`); an over-long value simply finds nothing."""

    id: str | None
    key: str | None
    email: str | None
    name: str | None


def _text(description: str, example: str) -> Any:
    return Query(max_length=MAX_CUSTOMER_KEY, description=description, examples=[example])


async def get_search(
    id: Annotated[str | None, _text("Only the one with this id", "ptr_alice")] = None,
    key: Annotated[str | None, _text("Only the one with this key", "alice")] = None,
    email: Annotated[
        str | None, _text("Only the one with this email (without case)", "alice@example.com")
    ] = None,
    name: Annotated[str | None, _text("Partners only: those with this first name", "Alice")] = None,
) -> SearchParams:
    return SearchParams(id, key, email, name)


SearchDep = Annotated[SearchParams, Depends(get_search)]
