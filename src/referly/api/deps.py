"""Request-scoped dependencies: the database session and the program a token selects."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Program
from referly.domain import tokens
from referly.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE
from referly.errors import Unauthorized

bearer = HTTPBearer(auto_error=False, description="The program's API token")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed when the route returns and before the answer is
    sent, so a 2xx always means committed."""
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_program(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Program:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return await tokens.authenticate(session, credentials.credentials)


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
