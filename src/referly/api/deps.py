"""Request-scoped dependencies: the database session and the program a token selects."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api import idempotency
from referly.api.schemas.common import has_control_characters
from referly.db.models import Program
from referly.domain import tokens
from referly.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE
from referly.errors import Unauthorized, ValidationFailed

bearer = HTTPBearer(auto_error=False, description="The program's API token")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the route returns and before the answer is
    sent, so a 2xx always means committed (a POST with an idempotency key: committed with its
    answer, see `referly.api.idempotency`)."""
    async with idempotency.request_session(request, request.app.state.sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def refuse_control_characters(request: Request) -> None:
    """Path and query values with control characters name nothing we store (bodies refuse
    them too), and PostgreSQL cannot even compare text holding U+0000."""
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        if has_control_characters(value):
            raise ValidationFailed.field(name, f"The {name} must not contain control characters.")


async def get_program(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Program:
    """The token's program. Also where every authenticated request's path and query are
    screened and a POST's idempotency key is reserved or replayed."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    program = await tokens.authenticate(session, credentials.credentials)
    refuse_control_characters(request)
    await idempotency.claim(request, session, program)
    return program


ProgramDep = Annotated[Program, Depends(get_program)]


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> None:
        self.limit = limit
        self.page = page


PageDep = Annotated[PageParams, Depends()]
