"""The public tracking path in the OpenAPI document. These routes are served by the raw ASGI
layer in front of FastAPI (`gateway.py`), so FastAPI cannot describe them itself."""

from typing import Any

ERROR = {"$ref": "#/components/schemas/ErrorOut"}
PUBLIC_ID = {
    "name": "public_id",
    "in": "path",
    "required": True,
    "description": "The program's public id, as in `po('program', ID, 'load')`",
    "schema": {"type": "string"},
}
ACCEPTED = {
    "description": "Accepted (stored when the referral key is one of the program's; the answer "
    "is the same for unknown keys)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "integer", "enum": [1]}},
                "required": ["status"],
            }
        }
    },
}
REFUSALS = {
    "400": "Malformed JSON body",
    "403": "The request's Origin is not one of the program's allowed origins",
    "404": "No such program",
    "413": "Body too large",
    "422": "A field breaks its rule; `errors` names it",
    "429": "Too many reports from this IP for this program; see Retry-After and X-RateLimit-*",
    "503": "The database is unavailable",
}

CLICK_BODY = {
    "type": "object",
    "required": ["key"],
    "properties": {
        "key": {"type": "string", "description": "The referral key from the landing URL"},
        "url": {"type": "string", "maxLength": 4096, "description": "The landing page URL"},
        "referrer": {"type": "string", "maxLength": 4096},
        "visitor": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    },
}
SIGNUP_FIELDS = {
    "key": {"type": "string", "maxLength": 255, "description": "The customer's key"},
    "email": {"type": "string", "format": "email"},
    "name": {"type": "string", "maxLength": 255},
    "surname": {"type": "string", "maxLength": 255},
    "partner": {
        "description": 'The referral key credited: a string or `{"key": ...}`',
        "oneOf": [
            {"type": "string"},
            {"type": "object", "properties": {"key": {"type": "string"}}},
        ],
    },
}
SIGNUP_BODY = {
    "type": "object",
    "description": 'The fields at the top level, or Partnero\'s shape `{"data": {...}}`',
    "properties": {
        **SIGNUP_FIELDS,
        "data": {"type": "object", "properties": SIGNUP_FIELDS},
        "source": {"type": "string", "enum": ["js", "universal"]},
        "visitor": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    },
}


def _report(summary: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": ["public tracking"],
        "summary": summary,
        "description": description,
        "security": [],
        "parameters": [PUBLIC_ID],
        "requestBody": {
            "required": True,
            "description": "JSON sent as `text/plain`, so browsers send no CORS preflight",
            "content": {"text/plain": {"schema": body}, "application/json": {"schema": body}},
        },
        "responses": {
            "202": ACCEPTED,
            **{
                code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
                for code, text in REFUSALS.items()
            },
        },
    }


def document_public_paths(openapi: dict[str, Any]) -> None:
    paths = openapi.setdefault("paths", {})
    paths["/js/universal.js"] = {
        "get": {
            "tags": ["public tracking"],
            "summary": "The browser script",
            "description": "Any query string. Gzipped when the client accepts it; ETag and "
            "If-None-Match give 304.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The script",
                    "content": {"application/javascript": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified"},
            },
        }
    }
    paths["/t/{public_id}/settings"] = {
        "get": {
            "tags": ["public tracking"],
            "summary": "The program's tracking settings, as the script reads them",
            "security": [],
            "parameters": [PUBLIC_ID],
            "responses": {
                "200": {
                    "description": "URL parameters, cookie name, lifetime and domain, "
                    "attribution rule",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": {
                    "description": "No such program",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
    }
    paths["/t/{public_id}/clicks"] = {
        "post": _report(
            "Record a click on a referral link",
            "Sent by the script when a page is opened with a referral key in its URL.",
            CLICK_BODY,
        )
    }
    paths["/t/{public_id}/signups"] = {
        "post": _report(
            "Report a sign-up",
            "Sent by `po('customers', 'signup', ...)` and by the Universal form capture. "
            "A repeated sign-up (same customer key or email) is a no-op success.",
            SIGNUP_BODY,
        )
    }
