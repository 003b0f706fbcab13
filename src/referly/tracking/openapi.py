"""The public tracking path in the OpenAPI document. These routes are served by the plain ASGI
layer in front of FastAPI (`referly.tracking.app`), so FastAPI cannot describe them itself:
the bodies' schemas are generated here from the models that read the reports, and the error
examples are rendered by the code that renders the errors."""

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from referly.db.models import Program
from referly.domain.cookies import script_settings
from referly.domain.fields import EMAIL_PROBLEM
from referly.errors import (
    BadRequest,
    NotFound,
    OriginRefused,
    PayloadTooLarge,
    RateLimited,
    ReferlyError,
    ServerSignupsOnly,
    ServiceUnavailable,
    ValidationFailed,
)
from referly.tracking.reports import ClickReport, SignupReport
from referly.web.errors import MALFORMED_JSON, error_examples

TAG = "public tracking"
ERROR = {"$ref": "#/components/schemas/ErrorOut"}
ACCEPTED = {
    "description": "Accepted: stored when the referral key is one of the program's. The answer, "
    "and its timing, are the same for unknown keys, so the path tells nobody which keys exist.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "integer", "enum": [1]}},
                "required": ["status"],
            },
            "example": {"status": 1},
        }
    },
}
Refusal = tuple[str, ReferlyError, *tuple[ReferlyError, ...]]  # described, then examples
NOT_FOUND: Refusal = ("No such program", NotFound("Program not found"))
REFUSALS: dict[str, Refusal] = {
    "400": ("Malformed JSON, or a body that is not an object", BadRequest(MALFORMED_JSON)),
    "403": (
        "The page's origin is not one of the program's allowed origins, or the program takes "
        "sign-ups from its server only",
        OriginRefused(),
        ServerSignupsOnly(),
    ),
    "404": NOT_FOUND,
    "413": ("The body is over the size limit", PayloadTooLarge()),
    "422": (
        "A field breaks its rule; `errors` names it",
        ValidationFailed.field("email", EMAIL_PROBLEM),
    ),
    "429": (
        "Too many reports from this IP for this program; see Retry-After and X-RateLimit-*",
        RateLimited(retry_after=1),
    ),
    "503": ("The database is unavailable; the script tries again later", ServiceUnavailable()),
}


def _refusal(description: str, *errors: ReferlyError) -> dict[str, Any]:
    examples = error_examples(*errors)
    return {
        "description": description,
        "content": {"application/json": {"schema": ERROR, "examples": examples}},
    }


def _body_schema(model: type[BaseModel], openapi: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema, filed with the document's other schemas."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _nested_or_not(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields at the top level, or under `data` (Partnero's shape)."""
    data = {"type": "object", "required": ["data"], "properties": {"data": fields}}
    return {"anyOf": [fields, data]}


def _report(
    public_id: dict[str, Any],
    summary: str,
    description: str,
    body: dict[str, Any],
    examples: dict[str, Any],
) -> dict[str, Any]:
    media = {"schema": body, "examples": examples}
    return {
        "tags": [TAG],
        "summary": summary,
        "description": description,
        "security": [],
        "parameters": [public_id],
        "requestBody": {
            "required": True,
            "description": "JSON, sent as `text/plain` so that browsers send no CORS preflight",
            "content": {"text/plain": media, "application/json": media},
        },
        "responses": {
            "202": ACCEPTED,
            **{status: _refusal(*refusal) for status, refusal in REFUSALS.items()},
        },
    }


def _named(**bodies: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: {"summary": summary, "value": body} for name, (summary, body) in bodies.items()}


CLICK_EXAMPLES = _named(
    landing=(
        "A visitor lands by a partner's link",
        {
            "key": "alice",
            "url": "https://acme.example/pricing?aff=alice",
            "referrer": "https://blog.example/best-analytics-tools",
            "visitor": "v1.k3j9x2m4q8",
        },
    )
)
SIGNUP_EXAMPLES = _named(
    snippet=(
        "po('customers', 'signup', {data: {...}}) from the sign-up tracking guide",
        {
            "data": {
                "key": "CUSTOMER_KEY",
                "email": "customer@partnero.com",
                "name": "Partnero",
                "partner": {"key": "UNIQUE_PARTNER_KEY"},
            },
            "visitor": "v1.k3j9x2m4q8",
        },
    ),
    universal=(
        "A form captured by the Universal integration",
        {"key": "jordan.lee@example.com", "email": "jordan.lee@example.com", "partner": "alice",
         "source": "universal"},
    ),
)  # fmt: skip


def public_paths(example: Program) -> Callable[[dict[str, Any]], None]:
    """The edit that adds the public path to the document; `example`: the program the
    examples show."""

    def edit(openapi: dict[str, Any]) -> None:
        _document(openapi, example)

    return edit


def _document(openapi: dict[str, Any], example: Program) -> None:
    public_id = {
        "name": "public_id",
        "in": "path",
        "required": True,
        "description": "The program's public id, as in `po('program', ID, 'load')`",
        "schema": {"type": "string"},
        "example": example.public_id,
    }
    paths = openapi.setdefault("paths", {})
    paths["/js/universal.js"] = {
        "get": {
            "tags": [TAG],
            "summary": "The browser script",
            "description": "The script the snippet loads (Partnero's `universal.js`, served "
            "by Referly), whatever the query string. Gzipped when the client accepts it; "
            "`ETag` and `If-None-Match` give 304.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The script",
                    "content": {
                        "application/javascript": {
                            "schema": {"type": "string"},
                            "example": "(function(){/* the browser script */})();",
                        }
                    },
                },
                "304": {"description": "Not modified"},
            },
        }
    }
    paths["/t/{public_id}/settings"] = {
        "get": {
            "tags": [TAG],
            "summary": "The program's tracking settings, as the script reads them",
            "description": "What the script needs before it tracks anything: the URL "
            "parameters that carry a referral key, the cookie's name, lifetime and domain, and "
            "the attribution rule. The one-letter fields are the same values, for the script. "
            "Cached by browsers for five minutes.",
            "security": [],
            "parameters": [public_id],
            "responses": {
                "200": {
                    "description": "The settings",
                    "content": {
                        "application/json": {
                            "schema": {"type": "object"},
                            "example": script_settings(example),
                        }
                    },
                },
                "404": _refusal(*NOT_FOUND),
            },
        }
    }
    paths["/t/{public_id}/clicks"] = {
        "post": _report(
            public_id,
            "Record a click on a referral link",
            "Sent by the script when a page opens with a referral key in its URL. Stored as a "
            "click of the partner whose key (or extra link) it is; the visitor id links it to "
            "a later sign-up from the same browser.",
            _body_schema(ClickReport, openapi),
            CLICK_EXAMPLES,
        )
    }
    paths["/t/{public_id}/signups"] = {
        "post": _report(
            public_id,
            "Report a sign-up",
            "Sent by `po('customers', 'signup', ...)` and by the Universal form capture, with "
            "the referral key of the visitor's cookie. Creates the customer, credited as a "
            "`POST /v1/customers` would; a sign-up your server then reports through the REST "
            "API replaces it. A repeated sign-up (same key or email), an unknown referral key "
            "or none at all is answered the same and stores nothing.",
            _nested_or_not(_body_schema(SignupReport, openapi)),
            SIGNUP_EXAMPLES,
        )
    }
