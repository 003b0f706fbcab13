"""The one error hierarchy. Every error a client sees is a `ReferlyError` rendered by
`referly.api.errors`; the CLI prints the same messages."""

from collections.abc import Mapping, Sequence


class ReferlyError(Exception):
    status_code = 400
    message = "Bad request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.message
        super().__init__(self.message)


class BadRequest(ReferlyError):
    status_code = 400


class Unauthorized(ReferlyError):
    status_code = 401
    message = "Unauthenticated."


class NotFound(ReferlyError):
    status_code = 404
    message = "Not found"


class InvalidPartnerKey(BadRequest):
    message = "Invalid partner key"


class PayloadTooLarge(ReferlyError):
    status_code = 413
    message = "Request body too large"


class ValidationFailed(ReferlyError):
    """422 with per-field messages, Partnero style: `{"errors": {"email": ["..."]}}`."""

    status_code = 422
    message = "The given data was invalid."

    def __init__(
        self, message: str | None = None, errors: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    @classmethod
    def field(cls, name: str, problem: str) -> "ValidationFailed":
        return cls(problem, {name: [problem]})


class DuplicateKey(ValidationFailed):
    """A unique value (customer key, email, partner key, ...) that the program already has."""

    message = "Duplicate key"


class RateLimited(ReferlyError):
    status_code = 429
    message = "Too many requests"

    def __init__(
        self,
        retry_after: int,
        message: str | None = None,
        limit_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit_headers = limit_headers or []  # X-RateLimit-* of the bucket that said no


class ServiceUnavailable(ReferlyError):
    status_code = 503
    message = "The database is unavailable; try again shortly"


class OriginRefused(ReferlyError):
    """A public report from a site the program does not allow."""

    status_code = 403
    message = "This origin may not report to the program"


class MethodNotAllowed(ReferlyError):
    status_code = 405
    message = "Method not allowed"
