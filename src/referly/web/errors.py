"""How an error is rendered, for every door: Partnero's shape
`{"message": ..., "status": 0[, "errors": {field: [messages]}]}`, the headers that go with it,
and the wording of field problems (Laravel's, as Partnero's API answers)."""

from collections.abc import Mapping, Sequence
from typing import Any

from referly.domain.fields import PLAIN_TEXT_PATTERN, UNPLAIN_TEXT, unplain_text_problem
from referly.errors import BadRequest, PayloadTooLarge, RateLimited, ReferlyError, ValidationFailed
from referly.web.asgi import JSON_TYPE, Headers, json_bytes

MALFORMED_JSON = "Malformed JSON body"


def error_payload(error: ReferlyError) -> dict[str, Any]:
    payload: dict[str, Any] = {"message": error.message, "status": 0}
    if isinstance(error, ValidationFailed) and error.errors:
        payload["errors"] = error.errors
    return payload


def error_body(error: ReferlyError) -> bytes:
    return json_bytes(error_payload(error))


def error_examples(*errors: ReferlyError) -> dict[str, dict[str, Any]]:
    """Named OpenAPI examples of error answers, each rendered as the server renders it."""
    examples: dict[str, dict[str, Any]] = {}
    for error in errors:
        name = type(error).__name__
        name += str(sum(1 for known in examples if known.startswith(name)) or "")
        examples[name] = {"summary": error.message, "value": error_payload(error)}
    return examples


def error_headers(error: ReferlyError) -> Headers:
    headers = [JSON_TYPE]
    if isinstance(error, RateLimited):
        headers.append((b"retry-after", str(error.retry_after).encode()))
        headers.extend(error.limit_headers)
    if isinstance(error, PayloadTooLarge):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    return headers


def field_name(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def field_message(problem: Mapping[str, Any], field: str) -> str:
    """Laravel's wording, as Partnero's API answers, for the rules every field shares."""
    kind = problem["type"]
    context = problem.get("ctx") or {}
    is_text = isinstance(problem.get("input"), str)
    if kind == "missing":
        return f"The {field} field is required."
    if kind == "string_type":
        return f"The {field} must be a string."
    if kind in ("string_too_short", "too_short") and is_text:
        if context.get("min_length") == 1:
            return f"The {field} field must not be empty."
        return f"The {field} must be at least {context.get('min_length')} characters."
    if kind in ("string_too_long", "too_long") and is_text:
        return f"The {field} may not be greater than {context.get('max_length')} characters."
    if kind == "too_long":
        return f"The {field} may not have more than {context.get('max_length')} items."
    if kind in (UNPLAIN_TEXT, "string_unicode") or (
        kind == "string_pattern_mismatch" and context.get("pattern") == PLAIN_TEXT_PATTERN
    ):
        return unplain_text_problem(field)
    if kind == "string_pattern_mismatch":
        return f"The {field} may only contain letters, numbers, dots, dashes and underscores."
    return str(problem["msg"]).removeprefix("Value error, ")


def invalid_input(problems: Sequence[Mapping[str, Any]]) -> ReferlyError:
    """Validation problems as one error: a malformed JSON body is a 400, anything else a 422
    naming every field that broke its rule."""
    if any(p["type"] == "json_invalid" for p in problems):
        return BadRequest(MALFORMED_JSON)
    errors: dict[str, list[str]] = {}
    for problem in problems:
        field = field_name(tuple(problem["loc"]))
        errors.setdefault(field, []).append(field_message(problem, field))
    first = next(iter(errors.values()))[0]
    return ValidationFailed(first, errors)
