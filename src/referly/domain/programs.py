"""Programs: the tenant. Every other record belongs to exactly one program."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Program
from referly.domain.attribution import ATTRIBUTION_RULES
from referly.domain.cookies import MAX_COOKIE_DAYS, normalize_cookie_domain
from referly.domain.keys import new_program_public_id
from referly.domain.origins import normalize_origin
from referly.domain.pagination import ordered
from referly.errors import NotFound, ValidationFailed

PROGRAM_TYPES = ("affiliate", "referral")
DEFAULT_URL_PARAM = {"affiliate": "aff", "referral": "ref"}
URL_PARAM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_URL_PARAMS = 5
MAX_ALLOWED_ORIGINS = 50


@dataclass
class NewProgram:
    name: str
    type: str = "affiliate"
    website: str | None = None
    url_params: list[str] = field(default_factory=list)


async def create_program(session: AsyncSession, new: NewProgram) -> Program:
    name = new.name.strip()
    if not name or len(name) > 255:
        raise ValidationFailed.field("name", "The name must be 1 to 255 characters.")
    if new.type not in PROGRAM_TYPES:
        raise ValidationFailed.field("type", "The type must be affiliate or referral.")
    website = _website(new.website) if new.website is not None else None
    for _attempt in range(5):
        program = Program(
            public_id=new_program_public_id(),
            name=name,
            type=new.type,
            website=website,
            url_params=new.url_params or [DEFAULT_URL_PARAM[new.type]],
            allowed_origins=[],
        )
        try:
            async with session.begin_nested():
                session.add(program)
        except IntegrityError:  # public id collision: draw again
            continue
        return program
    raise RuntimeError("could not draw a unique program id")


async def list_programs(session: AsyncSession, newest_first: bool = True) -> Sequence[Program]:
    return (await session.scalars(ordered(select(Program), Program.id, newest_first))).all()


async def get_program(session: AsyncSession, public_id: str) -> Program:
    program = await session.scalar(select(Program).where(Program.public_id == public_id.upper()))
    if program is None:
        raise NotFound(f"Program {public_id} not found")
    return program


@dataclass
class ProgramChanges:
    """Settings to change; None leaves a setting as it is. An empty `website` clears it and
    an empty `allowed_origins` allows every origin again."""

    url_params: list[str] | None = None
    cookie_lifetime_days: int | None = None
    cookie_domain: str | None = None
    attribution: str | None = None
    allowed_origins: list[str] | None = None
    website: str | None = None
    public_signups: bool | None = None


async def update_program(
    session: AsyncSession, program: Program, changes: ProgramChanges
) -> Program:
    """Change a program's tracking settings; every value is checked before any is applied."""
    checked = _checked(changes)
    for name, value in checked.items():
        setattr(program, name, value)
    await session.flush()
    return program


def _checked(changes: ProgramChanges) -> dict[str, object]:
    checked: dict[str, object] = {}
    if changes.url_params is not None:
        checked["url_params"] = _url_params(changes.url_params)
    if changes.cookie_lifetime_days is not None:
        checked["cookie_lifetime_days"] = _cookie_days(changes.cookie_lifetime_days)
    if changes.cookie_domain is not None:
        checked["cookie_domain"] = _field(
            "cookie_domain", normalize_cookie_domain, changes.cookie_domain
        )
    if changes.attribution is not None:
        checked["attribution"] = _attribution(changes.attribution)
    if changes.allowed_origins is not None:
        checked["allowed_origins"] = _origins(changes.allowed_origins)
    if changes.website is not None:
        checked["website"] = _website(changes.website)
    if changes.public_signups is not None:
        checked["public_signups"] = changes.public_signups
    return checked


def _url_params(params: list[str]) -> list[str]:
    unique = list(dict.fromkeys(p.strip() for p in params))
    if not 1 <= len(unique) <= MAX_URL_PARAMS or not all(URL_PARAM.match(p) for p in unique):
        raise ValidationFailed.field(
            "url_params",
            f"Give 1 to {MAX_URL_PARAMS} URL parameters of letters, digits, '-' and '_'.",
        )
    return unique


def _cookie_days(days: int) -> int:
    if not 1 <= days <= MAX_COOKIE_DAYS:
        raise ValidationFailed.field(
            "cookie_lifetime_days", f"The cookie lifetime must be 1 to {MAX_COOKIE_DAYS} days."
        )
    return days


def _attribution(rule: str) -> str:
    if rule not in ATTRIBUTION_RULES:
        raise ValidationFailed.field(
            "attribution", "The attribution must be last_click or first_click."
        )
    return rule


def _origins(origins: list[str]) -> list[str]:
    if len(origins) > MAX_ALLOWED_ORIGINS:
        raise ValidationFailed.field(
            "allowed_origins", f"At most {MAX_ALLOWED_ORIGINS} allowed origins."
        )
    return list(dict.fromkeys(_field("allowed_origins", normalize_origin, o) for o in origins))


def _website(website: str) -> str | None:
    text = website.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(text) > 2048:
        raise ValidationFailed.field("website", "The website must be an http(s) URL.")
    return text


def _field(name: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except ValueError as error:
        raise ValidationFailed.field(name, str(error)) from error
