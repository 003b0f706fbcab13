"""Additions to the generated OpenAPI document for what middleware does to every route
(headers, extra answers), so the published contract matches the answers."""

from collections.abc import Callable
from importlib import resources
from string import Template
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from referly.config import Settings
from referly.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT
from referly.web.errors import error_examples
from referly.web.idempotency import (
    HEADER,
    KEY_LIFETIME_HOURS,
    KEY_PATTERN,
    REPLAYED_HEADER,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
)
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


def document_guide(settings: Settings) -> OpenApiEdit:
    """The guides (authentication, errors, idempotency, pagination, rate limits, the snippet)
    as the document's description, with this server's address and limits filled in."""
    guide = Template((resources.files("referly.api") / "guide.md").read_text("utf-8"))
    values = {
        "base": settings.public_url.rstrip("/") or "https://referly.example.com",
        "auth_failures": settings.api_auth_failures_per_minute,
        "max_body_kb": settings.max_body_bytes // 1024,
        "key_hours": KEY_LIFETIME_HOURS,
        "max_limit": MAX_LIMIT,
        "default_limit": DEFAULT_LIMIT,
        "burst": settings.api_rate_limit_burst,
        "per_minute": settings.api_rate_limit_per_minute,
        "tracking_per_minute": settings.tracking_rate_per_minute,
    }

    def edit(openapi: dict[str, Any]) -> None:
        openapi["info"]["description"] = guide.substitute(values)

    return edit


def keep_example_nulls(*routers: APIRouter) -> OpenApiEdit:
    """FastAPI drops every null from the document it generates, those in examples too (an
    answer's `"deleted_at": null` would vanish): put the routes' examples back as given."""

    def edit(openapi: dict[str, Any]) -> None:
        for route in (route for router in routers for route in router.routes):
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = openapi["paths"][route.path_format][method.lower()]
                for status, response in route.responses.items():
                    documented = operation["responses"][str(status)].get("content", {})
                    for media, given in response.get("content", {}).items():
                        documented[media].update(given)
                body = route.body_field
                named = getattr(body.field_info, "openapi_examples", None) if body else None
                if named:
                    for media in operation["requestBody"]["content"].values():
                        media["examples"] = named

    return edit


def document_idempotency(openapi: dict[str, Any]) -> None:
    """Declare the header, the replay marker and the 409 on every `POST /v1/...`."""
    parameter = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": "A key of yours for this request (a UUID, say). A retry with the same "
        f"key and the same request within {KEY_LIFETIME_HOURS} hours gets the first answer "
        "again and changes nothing; see Idempotency above.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
        "example": "5f0c3b8e-2a51-4c7e-9d0a-6f1b2e4c8a90",
    }
    conflict = {
        "description": "The idempotency key was used with another request, or its first "
        "request is still being answered",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorOut"},
                "examples": error_examples(IdempotencyKeyReused(), IdempotencyKeyInUse()),
            }
        },
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
