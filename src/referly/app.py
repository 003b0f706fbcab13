"""`create_app(settings)`: the whole server, built from an explicit settings object.

One process holds one database engine, one group-commit writer (the hot inserts share its
commits) and one fast reader (the hot reads). Two doors stand on them: the REST API, a FastAPI
app, and the public tracking path, a plain ASGI app that `Referly.__call__` dispatches to
before anything of FastAPI's runs."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from referly import __version__
from referly.api import examples
from referly.api.app import install_api
from referly.api.docs import install_docs
from referly.config import Settings
from referly.db.engine import create_engine, create_sessionmaker
from referly.db.group_commit import GroupCommitWriter
from referly.db.reads import fast_reader
from referly.db.writes import HotWriter
from referly.demo.routes import router as demo_router
from referly.tracking.app import PublicTracking
from referly.tracking.openapi import public_paths
from referly.web.access_log import AccessLog
from referly.web.security import SecurityHeaders

GC_YOUNG_THRESHOLD = 20_000  # Python's default is 700


class Referly(FastAPI):
    """The REST API (this FastAPI app, with the demo page and the docs) and, in front of it,
    the public tracking path."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.public: PublicTracking | None = None
        self._logged = AccessLog(self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._logged(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        public = self.public
        if public is not None and scope["type"] == "http" and public.serves(scope["path"]):
            await public(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> Referly:
    engine = create_engine(settings)
    # The writer starts on its first insert, so an app driven without a lifespan (tests) works
    # the same.
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

    app = Referly(
        title="Referly",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served by `install_docs`, without a CDN
        redoc_url=None,
    )
    state = app.state
    state.settings, state.engine, state.writer = settings, engine, writer
    state.reader = fast_reader(settings.database_url, engine)
    state.sessionmaker = create_sessionmaker(engine)
    state.read_sessionmaker = create_sessionmaker(engine, read_only=True)
    state.rows = HotWriter(writer, state.sessionmaker)
    install_api(app, settings, public_paths(examples.PROGRAM))
    install_docs(app)
    app.include_router(demo_router)
    app.add_middleware(SecurityHeaders)
    app.public = state.tracking = PublicTracking(
        settings, state.read_sessionmaker, state.reader, state.rows
    )
    return app
