"""Renders every error in Partnero's shape: `{"message": ..., "status": 0[, "errors": {...}]}`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from referly.api.schemas.common import ErrorOut
from referly.db.engine import DATABASE_UNAVAILABLE
from referly.errors import DuplicateKey, ReferlyError, ServiceUnavailable

log = logging.getLogger("referly")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request (malformed JSON, invalid partner key)"},
    401: {"model": ErrorOut, "description": "Missing, unknown or revoked API token"},
    404: {"model": ErrorOut, "description": "No such resource in this program"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    422: {"model": ErrorOut, "description": "Validation failed or duplicate key"},
    429: {"model": ErrorOut, "description": "Rate limited; see Retry-After"},
    503: {"model": ErrorOut, "description": "Database unavailable"},
}


def error_response(error: ReferlyError) -> JSONResponse:
    body: dict[str, Any] = {"message": error.message, "status": 0}
    errors = getattr(error, "errors", None)
    if errors:
        body["errors"] = errors
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _field_name(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _field_message(error: dict[str, Any], field: str) -> str:
    """Laravel's wording, as Partnero's API answers, for the rules every field shares."""
    kind = error["type"]
    context = error.get("ctx") or {}
    is_text = isinstance(error.get("input"), str)
    if kind == "missing":
        return f"The {field} field is required."
    if kind in ("string_too_short", "too_short") and is_text:
        if context.get("min_length") == 1:
            return f"The {field} field must not be empty."
        return f"The {field} must be at least {context.get('min_length')} characters."
    if kind in ("string_too_long", "too_long") and is_text:
        return f"The {field} may not be greater than {context.get('max_length')} characters."
    if kind in ("too_long",):
        return f"The {field} may not have more than {context.get('max_length')} items."
    if kind == "string_pattern_mismatch":
        return f"The {field} may only contain letters, numbers, dots, dashes and underscores."
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = list(exc.errors())
    if any(p["type"] == "json_invalid" for p in problems):
        return error_response(ReferlyError("Malformed JSON body"))
    errors: dict[str, list[str]] = {}
    for problem in problems:
        field = _field_name(tuple(problem["loc"]))
        errors.setdefault(field, []).append(_field_message(problem, field))
    first = next(iter(errors.values()))[0]
    return JSONResponse({"message": first, "errors": errors, "status": 0}, status_code=422)


def _http_message(exc: HTTPException) -> str:
    """Say what was wrong with a body the framework could not parse, not just that it was."""
    if exc.status_code == 404:
        return "Not found"
    if isinstance(exc.__cause__, RecursionError):
        return "The JSON body is nested too deeply."
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return "The request body is not valid UTF-8."
    if exc.status_code == 400 and exc.__cause__ is not None:
        return "Malformed JSON body"
    return str(exc.detail)


def install_error_handlers(app: FastAPI) -> None:
    async def on_referly(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReferlyError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_response(exc)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"message": _http_message(exc), "status": 0},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    async def on_integrity(_: Request, exc: Exception) -> JSONResponse:
        return error_response(DuplicateKey())

    async def on_database(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database error: %s", exc.__class__.__name__)
        return error_response(ServiceUnavailable())

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"message": "Server error", "status": 0}, status_code=500)

    app.add_exception_handler(ReferlyError, on_referly)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(IntegrityError, on_integrity)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, on_database)
    app.add_exception_handler(Exception, on_unexpected)
