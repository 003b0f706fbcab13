"""Programs: the tenant. Every other record belongs to exactly one program."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referly.db.models import Program
from referly.domain.keys import new_program_public_id
from referly.errors import NotFound, ValidationFailed

PROGRAM_TYPES = ("affiliate", "referral")
DEFAULT_URL_PARAM = {"affiliate": "aff", "referral": "ref"}
COOKIE_NAME = {"affiliate": "partnero_partner", "referral": "partnero_referral"}


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
    for _attempt in range(5):
        program = Program(
            public_id=new_program_public_id(),
            name=name,
            type=new.type,
            website=new.website,
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


async def list_programs(session: AsyncSession) -> Sequence[Program]:
    return (await session.scalars(select(Program).order_by(Program.id))).all()


async def get_program(session: AsyncSession, public_id: str) -> Program:
    program = await session.scalar(select(Program).where(Program.public_id == public_id.upper()))
    if program is None:
        raise NotFound(f"Program {public_id} not found")
    return program
