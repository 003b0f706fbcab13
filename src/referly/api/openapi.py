"""Additions to the generated OpenAPI document for what middleware does to every route
(headers, extra answers), so the published contract matches the answers."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

OpenApiEdit = Callable[[dict[str, Any]], None]


def extend_openapi(app: FastAPI, *edits: OpenApiEdit) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for edit in edits:
                edit(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
