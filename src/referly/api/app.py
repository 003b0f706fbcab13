"""The REST API's part of the app: its routes, its error handlers and the layers every `/v1`
request passes (outermost first): the rate limit, the body size limit, then idempotency keys."""

from fastapi import FastAPI

from referly.api import customers, meta, partners, referral_links
from referly.api.errors import install_error_handlers
from referly.api.openapi import (
    OpenApiEdit,
    document_guide,
    document_idempotency,
    document_rate_limits,
    extend_openapi,
    keep_example_nulls,
)
from referly.config import Settings
from referly.web.body_limit import BodyLimitMiddleware
from referly.web.idempotency import IdempotencyMiddleware
from referly.web.rate_limit import ApiRateLimits, RateLimitMiddleware


def install_api(app: FastAPI, settings: Settings, *more_docs: OpenApiEdit) -> None:
    """`more_docs`: what the other doors add to the OpenAPI document."""
    install_error_handlers(app)
    # One level of routers, the busiest first: FastAPI matches routes in order.
    routers = [door.router for door in (customers, partners, referral_links, meta)]
    for router in routers:
        app.include_router(router)
    # Middleware added later wraps what came before.
    app.add_middleware(
        IdempotencyMiddleware,
        sessionmaker=app.state.sessionmaker,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    limits = app.state.rate_limits = ApiRateLimits.from_settings(settings)
    app.add_middleware(RateLimitMiddleware, limits=limits, settings=settings)
    extend_openapi(
        app,
        document_guide(settings),
        keep_example_nulls(*routers),
        document_idempotency,
        document_rate_limits,
        *more_docs,
    )
