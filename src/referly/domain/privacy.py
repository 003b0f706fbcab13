"""Erasing a customer's personal data from everywhere it is kept, not only from the customer
row: the clicks that carry the visitor's traces and the stored answers of idempotent requests
that repeat the customer object. Runs in the caller's transaction, so it happens entirely or
not at all, together with the delete of the customer itself."""

import json
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Click, Customer, CustomerAlias, IdempotencyKey

# What a click knows about the visitor behind it. The click itself stays (without them) so the
# partner's click counts do not change.
VISITOR_TRACES = {"landing_url": None, "referrer": None, "visitor_id": None, "ip_hash": None}


async def erase_customer(session: AsyncSession, customer: Customer) -> None:
    """Delete the customer and every trace of the person the program holds. Only flushes."""
    await scrub_clicks(session, customer)
    await purge_stored_answers(session, customer)
    await session.execute(delete(Customer).where(Customer.id == customer.id))
    await session.flush()


async def scrub_clicks(session: AsyncSession, customer: Customer) -> None:
    """The click the customer came through, and every other click of the program by the same
    visitor id (the id names one browser, so those are the same person's visits)."""
    if customer.click_id is None:
        return
    visitor_id = await session.scalar(select(Click.visitor_id).where(Click.id == customer.click_id))
    same_person = Click.id == customer.click_id
    if visitor_id is not None:
        same_visitor = (Click.program_id == customer.program_id) & (Click.visitor_id == visitor_id)
        same_person = or_(same_person, same_visitor)
    await session.execute(update(Click).where(same_person).values(**VISITOR_TRACES))


# Who a customer is or was: a key, and an email when it had one.
Identity = tuple[str, str | None]


async def identities_of(session: AsyncSession, customer: Customer) -> list[Identity]:
    """The customer's key and email, and every pair it had before (`CustomerAlias`)."""
    aliases = await session.execute(
        select(CustomerAlias.key, CustomerAlias.email_ci).where(
            CustomerAlias.customer_id == customer.id
        )
    )
    return [(customer.key, customer.email_ci), *((key, email) for key, email in aliases)]


async def purge_stored_answers(session: AsyncSession, customer: Customer) -> None:
    """Stored answers of the program's idempotent requests that show this customer, under any
    key or email it had (a create answers with the whole customer object). A retry of such a
    request after the delete runs afresh instead of replaying the erased data."""
    identities = await identities_of(session, customer)
    found = await session.execute(
        select(IdempotencyKey.id, IdempotencyKey.response_body).where(
            IdempotencyKey.program_id == customer.program_id, _may_mention(identities)
        )
    )
    ids = [row_id for row_id, body in found if body is not None and mentions(body, identities)]
    if ids:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))


def _may_mention(identities: list[Identity]) -> ColumnElement[bool]:
    """A cheap text match in the database; `mentions` then decides on the parsed body."""
    body = IdempotencyKey.response_body
    conditions = []
    for key, email_ci in identities:
        conditions.append(body.contains(_as_json_text(key), autoescape=True))
        if email_ci:
            conditions.append(func.lower(body).contains(_as_json_text(email_ci), autoescape=True))
    return or_(*conditions)


def _as_json_text(value: str) -> str:
    """How `value` appears inside a JSON string in a stored body."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def mentions(body: str, identities: list[Identity]) -> bool:
    """Whether a stored answer holds an object with one of the customer's keys, or one of its
    emails anywhere. A body that is not JSON counts when its text holds either."""
    try:
        parsed = json.loads(body)
    except ValueError:
        lowered = body.lower()
        return any(key in body or bool(email and email in lowered) for key, email in identities)
    return any(_holds(parsed, key, email) for key, email in identities)


def _holds(value: Any, key: str, email_ci: str | None) -> bool:
    if isinstance(value, dict):
        if value.get("key") == key:
            return True
        return any(_holds(item, key, email_ci) for item in value.values())
    if isinstance(value, list):
        return any(_holds(item, key, email_ci) for item in value)
    return isinstance(value, str) and email_ci is not None and value.strip().lower() == email_ci
