"""Command tree: `referly serve | migrate | programs | tokens | partners ...`."""

from typing import Annotated

import typer

from referly import server
from referly.cli import clicks, customers, partners, programs, tokens
from referly.cli.output import JsonFlag, emit, upgrade_schema
from referly.config import Settings

app = typer.Typer(
    name="referly",
    help="Self-hosted partner-program tracking, drop-in compatible with Partnero.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as other tools print it
    add_completion=False,
)
app.add_typer(programs.app, name="programs")
app.add_typer(tokens.app, name="tokens")
app.add_typer(partners.app, name="partners")
app.add_typer(customers.app, name="customers")
app.add_typer(clicks.app, name="clicks")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    as_json: JsonFlag = False,
) -> None:
    """Bring the schema up to date, then serve the API, the script and the demo page."""
    from referly.app import create_app

    settings = Settings()
    upgrade_schema(settings)
    url = f"http://{host}:{port}"
    emit({"url": url, "database": _redacted(settings.database_url)}, as_json, f"Referly on {url}")
    limits = server.ConnectionLimits(
        max_head_bytes=settings.max_header_bytes,
        head_timeout_seconds=settings.header_timeout_seconds,
        body_timeout_seconds=settings.body_timeout_seconds,
        max_connections=settings.max_connections,
    )
    server.serve(create_app(settings), host, port, settings.log_level, limits)


@app.command()
def migrate(as_json: JsonFlag = False) -> None:
    """Bring the database schema up to date and exit."""
    settings = Settings()
    upgrade_schema(settings)
    emit({"migrated": True}, as_json, "Database schema is up to date.")


def _redacted(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)
