"""Requests answered in front of FastAPI's per-request layers (`referly.tracking.gateway.
TrackedApp`): the layers they need run in front too, and a request they pass on to the app is
marked, so that those same layers inside the app let it through instead of running twice."""

from starlette.types import Scope

PASSED_ON = "referly.passed_on"


def passed_on(scope: Scope) -> bool:
    """Whether the layers in front already ran for this request."""
    return PASSED_ON in scope


def mark_passed_on(scope: Scope) -> None:
    scope[PASSED_ON] = True
