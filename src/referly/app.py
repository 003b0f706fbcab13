"""`create_app(settings)`: the whole server, built from an explicit settings object."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from referly import __version__
from referly.api.body_limit import BodyLimitMiddleware
from referly.api.customers_fast import install_customer_fast_path, install_customer_front
from referly.api.errors import install_error_handlers
from referly.api.idempotency import document_idempotency, install_idempotency
from referly.api.openapi import extend_openapi
from referly.api.rate_limit import document_rate_limits, install_rate_limits
from referly.api.router import router as api_router
from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.db.group_commit import GroupCommitWriter
from referly.tracking.gateway import TrackedApp, install_tracking
from referly.tracking.openapi import document_public_paths

GC_YOUNG_THRESHOLD = 20_000  # Python's default is 700


def create_app(settings: Settings) -> FastAPI:
    engine = create_engine(settings)
    # The hot insert paths share commits through one writer per process. It starts on its first
    # insert, so an app driven without a lifespan (tests) works the same.
    writer = GroupCommitWriter.for_url(settings.database_url, autostart=True)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise stall every request for tens of ms.
        gc.freeze()
        # Each request leaves a few dozen short-lived containers; most are freed by reference
        # counting long before a young-generation pass could find them, so passes are rarer.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        yield
        await writer.close()
        await engine.dispose()

    app = TrackedApp(
        title="Referly",
        version=__version__,
        description="Partner-program tracking with a Partnero-compatible REST API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.writer = writer
    app.state.sessionmaker = create_sessionmaker(engine)
    install_error_handlers(app)
    app.include_router(api_router)
    # Middleware added later wraps what came before: rate limits count every /v1 request,
    # the size limit stops a body before anything reads it, then idempotency reads it.
    install_idempotency(app)
    install_customer_fast_path(app)  # POST /v1/customers in its common form
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_rate_limits(app, settings)
    install_tracking(app, settings)  # in front of everything: the public path skips the rest
    install_customer_front(app)  # POST /v1/customers in front too, its layers rebuilt around it
    extend_openapi(app, document_idempotency, document_rate_limits, document_public_paths)
    return app
