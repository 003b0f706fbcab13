"""`create_app(settings)`: the whole server, built from an explicit settings object."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from referly import __version__
from referly.api.body_limit import BodyLimitMiddleware
from referly.api.errors import install_error_handlers
from referly.api.router import router as api_router
from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker


def create_app(settings: Settings) -> FastAPI:
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="Referly",
        version=__version__,
        description="Partner-program tracking with a Partnero-compatible REST API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    install_error_handlers(app)
    app.include_router(api_router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
