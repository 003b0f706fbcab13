"""Every error the REST API answers, in Partnero's shape (`referly.web.errors` renders it)."""

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from referly.api.schemas.common import ErrorOut
from referly.db.engine import DATABASE_UNAVAILABLE
from referly.errors import (
    BadRequest,
    DuplicateKey,
    PayloadTooLarge,
    ReferlyError,
    ServiceUnavailable,
)
from referly.web.errors import MALFORMED_JSON, error_body, error_headers, invalid_input
from referly.web.idempotency import REPLAYED_HEADER, IdempotentReplay

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
JSON = "application/json"


def error_response(error: ReferlyError, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(error_body(error), error.status_code, headers, media_type=JSON)
    for name, value in error_headers(error)[1:]:  # the content type is the media type
        response.headers.append(name.decode(), value.decode())
    return response


def _http_error(exc: HTTPException) -> ReferlyError:
    """Say what was wrong with a body the framework could not parse, not just that it was."""
    if exc.status_code == 413:
        return PayloadTooLarge()
    if exc.status_code == 404:
        message = "Not found"
    elif isinstance(exc.__cause__, RecursionError):
        message = "The JSON body is nested too deeply."
    elif isinstance(exc.__cause__, UnicodeDecodeError):
        message = "The request body is not valid UTF-8."
    elif exc.status_code == 400 and exc.__cause__ is not None:
        message = MALFORMED_JSON
    else:
        message = str(exc.detail)
    error = BadRequest(message)
    error.status_code = exc.status_code
    return error


def install_error_handlers(app: FastAPI) -> None:
    async def on_referly(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReferlyError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(invalid_input(list(exc.errors())))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(_http_error(exc), exc.headers)

    async def on_integrity(_: Request, exc: Exception) -> Response:
        return error_response(DuplicateKey())

    async def on_database(_: Request, exc: Exception) -> Response:
        log.warning("database error: %s", exc.__class__.__name__)
        return error_response(ServiceUnavailable())

    async def on_replay(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, IdempotentReplay)
        return Response(exc.body, exc.status, {REPLAYED_HEADER: "true"}, media_type=JSON)

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        # Where it failed, not what it said: an exception's message can repeat request data.
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled %s\n%s", type(exc).__name__, stack)
        return Response(b'{"message":"Server error","status":0}', 500, media_type=JSON)

    app.add_exception_handler(ReferlyError, on_referly)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(IdempotentReplay, on_replay)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, on_database)
    app.add_exception_handler(Exception, on_unexpected)
