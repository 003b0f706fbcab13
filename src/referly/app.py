"""`create_app(settings)`: the whole server, built from an explicit settings object."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from referly import __version__
from referly.api.body_limit import BodyLimitMiddleware
from referly.api.errors import install_error_handlers
from referly.api.idempotency import document_idempotency, install_idempotency
from referly.api.openapi import extend_openapi
from referly.api.rate_limit import document_rate_limits, install_rate_limits
from referly.api.router import router as api_router
from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.tracking.gateway import install_tracking


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
    # Middleware added later wraps what came before: rate limits count every /v1 request,
    # the size limit stops a body before anything reads it, then idempotency reads it.
    install_idempotency(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_rate_limits(app, settings)
    install_tracking(app, settings)  # outermost: the public path skips the /v1 layers
    extend_openapi(app, document_idempotency, document_rate_limits)
    return app
