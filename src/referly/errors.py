"""The one error hierarchy. Every error a client sees is a `ReferlyError`, rendered by
`referly.web.errors` for both doors; the CLI prints the same messages."""

from collections.abc import Mapping, Sequence


class ReferlyError(Exception):
    """Every error a client sees: an HTTP status and a message. A subclass gives its own, as
    class arguments: `class NotFound(ReferlyError, status=404, message="Not found")`."""

    status_code = 400
    message = "Bad request"

    def __init_subclass__(cls, status: int | None = None, message: str | None = None) -> None:
        super().__init_subclass__()
        cls.status_code = status or cls.status_code
        cls.message = message or cls.message

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.message
        super().__init__(self.message)


class BadRequest(ReferlyError, status=400):
    """A request that cannot be understood: malformed JSON, a body that is not an object."""


class InvalidPartnerKey(BadRequest, message="Invalid partner key"):
    """The partner a request names is not the program's, whether named by key, id or email."""


class Unauthorized(ReferlyError, status=401, message="Unauthenticated."):
    """A missing, malformed, unknown or revoked API token; the same answer for each."""


class OriginRefused(ReferlyError, status=403, message="This origin may not report to the program"):
    """A public report from a site the program does not allow (no CORS headers go with it)."""


class ServerSignupsOnly(
    ReferlyError, status=403, message="This program takes sign-ups from its server only"
):
    """A public sign-up for a program whose sign-ups come from the merchant's server only."""


class NotFound(ReferlyError, status=404, message="Not found"):
    """No such resource in the token's program: another program's is not found either."""


class MethodNotAllowed(ReferlyError, status=405, message="Method not allowed"):
    """A method the path does not answer."""


class PayloadTooLarge(ReferlyError, status=413, message="Request body too large"):
    """A body over the limit, refused before it is read whole; the connection is closed."""


class ValidationFailed(ReferlyError, status=422, message="The given data was invalid."):
    """422 with per-field messages, Partnero style: `{"errors": {"email": ["..."]}}`."""

    def __init__(
        self, message: str | None = None, errors: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    @classmethod
    def field(cls, name: str, problem: str) -> "ValidationFailed":
        return cls(problem, {name: [problem]})


class DuplicateKey(ValidationFailed, message="Duplicate key"):
    """A unique value (customer key, email, partner key, ...) that the program already has."""

    @classmethod
    def of(cls, *fields: str) -> "DuplicateKey":
        """Naming the fields that clashed: Partnero's `Duplicate key` when a key is among
        them, else the field's own message, as Laravel words it (`The email has already been
        taken.`)."""
        errors = {name: [f"The {name} has already been taken."] for name in fields}
        message = None if "key" in fields or not fields else errors[fields[0]][0]
        return cls(message, errors)


class RateLimited(ReferlyError, status=429, message="Too many requests"):
    """A bucket of requests ran dry (`referly.web.rate_limit`); `Retry-After` says when."""

    def __init__(
        self,
        retry_after: int,
        message: str | None = None,
        limit_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit_headers = limit_headers or []  # X-RateLimit-* of the bucket that said no


class ServiceUnavailable(
    ReferlyError, status=503, message="The database is unavailable; try again shortly"
):
    """The database cannot be reached or answer right now; the client may retry."""
