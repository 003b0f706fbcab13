"""Every error the REST API answers, in Partnero's shape (`referly.web.errors` renders it)."""

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from referly.api.schemas.common import ErrorOut
from referly.api.schemas.customers import CustomerCreateIn
from referly.db.engine import DATABASE_UNAVAILABLE
from referly.errors import (
    BadRequest,
    DuplicateKey,
    InvalidPartnerKey,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ReferlyError,
    ServiceUnavailable,
    Unauthorized,
)
from referly.web.errors import (
    MALFORMED_JSON,
    error_body,
    error_examples,
    error_headers,
    invalid_input,
)
from referly.web.idempotency import REPLAYED_HEADER, IdempotentReplay

log = logging.getLogger("referly")

JSON = "application/json"


def _refusal(model: type[BaseModel], body: dict[str, Any]) -> ReferlyError:
    """The answer the API gives `body`, as the server words it."""
    try:
        model.model_validate(body)
    except ValidationError as error:
        return invalid_input(error.errors())
    raise AssertionError(f"{model.__name__} accepts {body}")


def _documented(description: str, *errors: ReferlyError) -> dict[str, Any]:
    return {
        "model": ErrorOut,
        "description": description,
        "content": {JSON: {"examples": error_examples(*errors)}},
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented(
        "Malformed JSON, or a partner the program does not have",
        BadRequest(MALFORMED_JSON),
        InvalidPartnerKey(),
    ),
    401: _documented("Missing, unknown or revoked API token", Unauthorized()),
    404: _documented("No such object in the token's program", NotFound()),
    413: _documented("The request body is over the size limit", PayloadTooLarge()),
    422: _documented(
        "A field broke its rule (`errors` names each), or a unique value is taken",
        _refusal(CustomerCreateIn, {"key": "cus_1", "email": "not an email", "tags": [""]}),
        DuplicateKey.of("key"),
        DuplicateKey.of("email"),
    ),
    429: _documented("Too many requests; see `Retry-After`", RateLimited(retry_after=1)),
    503: _documented("The database is unavailable; retry shortly", ServiceUnavailable()),
}


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
