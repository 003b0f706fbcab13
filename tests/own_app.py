"""An app of a test's own, on the session's (already migrated) database, for tests that need
other settings or an extra route than the shared `app` fixture has."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from referly.app import create_app
from referly.config import Settings


@asynccontextmanager
async def own_app(
    settings: Settings, client_ip: str = "127.0.0.1", **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings.model_copy(update=overrides))
    transport = httpx.ASGITransport(
        app=application, client=(client_ip, 50_000), raise_app_exceptions=False
    )
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client
    finally:
        await application.state.writer.close()
        await application.state.engine.dispose()
