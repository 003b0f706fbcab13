"""The `referly` command."""

import sys

import typer
from pydantic import ValidationError

from referly.cli.app import app
from referly.db.engine import DATABASE_UNAVAILABLE


def main() -> None:
    """Run the command tree; every failure ends as one line on stderr and a non-zero exit
    (with `--json`, also one `{"error": ...}` object on stdout)."""
    as_json = "--json" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as error:  # usage errors: unknown option, missing value...
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `referly`: show the help
            error.show()  # type: ignore[attr-defined]
            sys.exit(0)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        _fail(message, as_json, getattr(error, "exit_code", 2))
    except typer.Abort:
        _fail("aborted", as_json, 130)
    except DATABASE_UNAVAILABLE as error:
        _fail(f"the database is unavailable: {_first_line(error)}", as_json, 1)
    except ValidationError as error:  # a REFERLY_* setting with a bad value
        problem = error.errors()[0]
        setting = "REFERLY_" + "_".join(str(part) for part in problem["loc"]).upper()
        _fail(f"{setting}: {problem['msg']}", as_json, 1)
    sys.exit(code if isinstance(code, int) else 0)


def _first_line(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__ or error
    text = str(getattr(error, "orig", None) or cause or error) or type(error).__name__
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _fail(message: str, as_json: bool, code: int) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps({"error": message}) + "\n")
    sys.stderr.write(f"error: {message.strip().splitlines()[0] if message.strip() else message}\n")
    sys.exit(code)


__all__ = ["app", "main"]
