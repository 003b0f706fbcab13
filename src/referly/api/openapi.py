"""Additions to the generated OpenAPI document for what middleware does to every route
(headers, extra answers), so the published contract matches the answers."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from referly.web.idempotency import HEADER, KEY_PATTERN, REPLAYED_HEADER
from referly.web.rate_limit import is_api_path

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


def document_idempotency(openapi: dict[str, Any]) -> None:
    """Declare the header, the replay marker and the 409 on every `POST /v1/...`."""
    parameter = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": "Makes a retry of this request safe for 24 hours; see the API docs.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    }
    conflict = {
        "description": "Idempotency key reused with another request, or still in progress",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    replayed = {"description": "`true` on an answer replayed for an idempotency key"}
    for path, operations in openapi.get("paths", {}).items():
        operation = operations.get("post")
        if not is_api_path(path) or operation is None:
            continue
        operation.setdefault("parameters", []).append(parameter)
        operation["responses"].setdefault("409", conflict)
        for status, response in operation["responses"].items():
            if status.startswith(("2", "4")):
                response.setdefault("headers", {})[REPLAYED_HEADER] = {
                    **replayed,
                    "schema": {"type": "string", "enum": ["true"]},
                }


def document_rate_limits(openapi: dict[str, Any]) -> None:
    """Declare the rate-limit headers on every `/v1` answer, and `Retry-After` on 429."""
    integer = {"schema": {"type": "integer"}}
    described = {
        "X-RateLimit-Limit": "Requests the bucket holds when full",
        "X-RateLimit-Remaining": "Requests left right now",
        "X-RateLimit-Reset": "Unix time (seconds) when the bucket is full again",
    }
    for path, operations in openapi.get("paths", {}).items():
        if not is_api_path(path):
            continue
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                for name, description in described.items():
                    headers[name] = {"description": description, **integer}
                if status == "429":
                    headers["Retry-After"] = {"description": "Seconds to wait", **integer}
