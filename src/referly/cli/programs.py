"""`referly programs ...`"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from referly.api.schemas.programs import program_out
from referly.cli.output import JsonFlag, OldestFirstOpt, emit, run_in_session, table, when
from referly.db.models import Program
from referly.domain import programs as service
from referly.domain.programs import NewProgram, ProgramChanges

app = typer.Typer(help="Create, list and configure programs.", no_args_is_help=True)
UPDATABLE = (
    "url_params",
    "cookie_lifetime_days",
    "cookie_domain",
    "attribution",
    "allowed_origins",
    "public_signups",
    "website",
)


def _readable(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _program_json(program: Program) -> dict[str, Any]:
    data = program_out(program).model_dump(mode="json")
    data["public_id"] = data["id"]
    return data


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Program name.")],
    type: Annotated[str, typer.Option(help="affiliate or referral.")] = "affiliate",
    website: Annotated[str | None, typer.Option(help="Your site, used in referral links.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a program; prints its public id for `po('program', ID, 'load')`."""

    async def work(session: AsyncSession) -> Program:
        return await service.create_program(session, NewProgram(name, type, website))

    program = run_in_session(work, as_json)
    human = f"program {program.public_id} ({program.name}, {program.type}); in the snippet: "
    emit(_program_json(program), as_json, human + f"po('program', '{program.public_id}', 'load')")


@app.command("list")
def list_(oldest_first: OldestFirstOpt = False, as_json: JsonFlag = False) -> None:
    """List every program, newest first."""

    async def work(session: AsyncSession) -> list[Program]:
        return list(await service.list_programs(session, not oldest_first))

    programs = run_in_session(work, as_json)
    shown = table(
        ["ID", "NAME", "TYPE", "WEBSITE", "CREATED (UTC)"],
        [[p.public_id, p.name, p.type, p.website, when(p.created_at)] for p in programs],
    )
    emit({"data": [_program_json(p) for p in programs]}, as_json, shown)


@app.command("update")
def update(
    public_id: Annotated[str, typer.Argument(help="The program's public id.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="URL parameter carrying the referral key; repeat for more."),
    ] = None,
    cookie_days: Annotated[
        int | None, typer.Option("--cookie-days", help="Referral cookie lifetime in days.")
    ] = None,
    cookie_domain: Annotated[
        str | None,
        typer.Option(
            "--cookie-domain",
            help="auto (the site's root domain, shared by subdomains), host, or a domain.",
        ),
    ] = None,
    attribution: Annotated[
        str | None, typer.Option(help="last_click (a new link wins) or first_click.")
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-origin",
            help="Only these sites may report (https://host[:port]; https://*.example.com for "
            "subdomains); repeat for more.",
        ),
    ] = None,
    any_origin: Annotated[
        bool, typer.Option("--any-origin", help="Clear the allowed origins: any site may report.")
    ] = False,
    website: Annotated[
        str | None, typer.Option(help="Your site, used in referral links; '' clears it.")
    ] = None,
    public_signups: Annotated[
        bool | None,
        typer.Option(
            "--public-signups/--server-signups-only",
            help="Whether the browser script may report sign-ups, or only your server may.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a program's tracking settings; options left out keep their value."""
    changes = ProgramChanges(
        url_params=param,
        cookie_lifetime_days=cookie_days,
        cookie_domain=cookie_domain,
        attribution=attribution,
        allowed_origins=[] if any_origin else allowed_origin,
        website=website,
        public_signups=public_signups,
    )

    async def work(session: AsyncSession) -> Program:
        found = await service.get_program(session, public_id)
        return await service.update_program(session, found, changes)

    program = run_in_session(work, as_json)
    data = _program_json(program)
    human = "\n".join(f"{name}\t{_readable(data[name])}" for name in UPDATABLE)
    emit(data, as_json, human)
