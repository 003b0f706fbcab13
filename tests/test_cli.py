"""The `referly` command as an operator runs it, on SQLite and PostgreSQL: with `--json` exactly
one JSON object on stdout; every error one line on stderr and a non-zero exit."""

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from referly.config import Settings


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    def one_object(self) -> dict:
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.stdout
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value


def referly(database_url: str, *args: str) -> Done:
    env = {**os.environ, "REFERLY_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "referly", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def assert_one_line_failure(done: Done, *, expected_in: str) -> None:
    assert done.code != 0, done.stdout
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert expected_in.lower() in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def database_url(settings: Settings, app: FastAPI) -> str:
    return settings.database_url  # migrated by the `app` fixture


def test_an_operator_sets_up_a_program_with_json_output(database_url: str) -> None:
    program = referly(database_url, "programs", "create", "--name", "CLI shop", "--json")
    public_id = program.one_object()["public_id"]
    listed = referly(database_url, "programs", "list", "--json").one_object()
    assert public_id in json.dumps(listed)

    token = referly(database_url, "tokens", "create", "--program", public_id, "--json")
    secret = token.one_object()["token"]
    assert secret.startswith("rfl_")

    key = f"cli-{uuid.uuid4().hex[:8]}"
    partner = referly(
        database_url, "partners", "create", "--program", public_id,
        "--email", f"{key}@example.com", "--key", key, "--json",
    ).one_object()  # fmt: skip
    assert partner["key"] == key

    revoked = referly(database_url, "tokens", "revoke", secret, "--json").one_object()
    assert revoked
    tokens = referly(database_url, "tokens", "list", "--program", public_id, "--json")
    assert secret not in tokens.stdout


def test_operator_mistakes_are_one_line_and_a_non_zero_exit(database_url: str) -> None:
    public_id = referly(database_url, "programs", "create", "--name", "Mistakes", "--json")
    program = public_id.one_object()["public_id"]
    key = f"dup-{uuid.uuid4().hex[:8]}"
    create = ["partners", "create", "--program", program, "--key", key]
    assert referly(database_url, *create, "--email", f"{key}@example.com").code == 0

    duplicate = referly(database_url, *create, "--email", f"other-{key}@example.com")
    assert_one_line_failure(duplicate, expected_in="key")
    unknown = referly(
        database_url, "partners", "create", "--program", "NOPE0000", "--email", "x@example.com"
    )
    assert_one_line_failure(unknown, expected_in="program")
    bad_email = referly(database_url, "partners", "create", "--program", program, "--email", "x")
    assert_one_line_failure(bad_email, expected_in="email")

    as_json = referly(database_url, *create, "--email", f"again-{key}@example.com", "--json")
    assert_one_line_failure(as_json, expected_in="key")
    assert "error" in as_json.one_object()


def test_usage_errors_are_one_line_too(database_url: str) -> None:
    missing = referly(database_url, "programs", "create", "--json")
    assert_one_line_failure(missing, expected_in="--name")
    assert missing.one_object() == {"error": "Missing option '--name'."}
    unknown_option = referly(database_url, "customers", "list", "--nonsense")
    assert_one_line_failure(unknown_option, expected_in="--nonsense")


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql://postgres@127.0.0.1:1/referly", "sqlite:////nonexistent/folder/referly.db"],
)
def test_an_unreachable_database_is_one_line(unreachable: str) -> None:
    done = referly(unreachable, "programs", "list", "--json")
    assert_one_line_failure(done, expected_in="database is unavailable")
    assert "error" in done.one_object()


def test_a_bad_setting_names_the_variable(database_url: str) -> None:
    env_bad = {**os.environ, "REFERLY_DATABASE_URL": database_url}
    env_bad["REFERLY_DATABASE_POOL_SIZE"] = "many"
    done = subprocess.run(
        [sys.executable, "-m", "referly", "programs", "list"],
        env=env_bad, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.startswith("error: REFERLY_DATABASE_POOL_SIZE"), done.stderr


def program_with_partner(settings: Settings) -> str:
    public_id = referly(settings.database_url, "programs", "create", "--name", "Tables", "--json")
    program = str(public_id.one_object()["public_id"])
    made = referly(
        settings.database_url, "partners", "create", "--program", program,
        "--email", f"{uuid.uuid4().hex[:8]}@example.com", "--key", f"k{uuid.uuid4().hex[:8]}",
        "--name", "Jane",
    )  # fmt: skip
    assert made.code == 0, made.stderr
    return program


def test_lists_are_tables_with_headers_for_people_and_json_for_scripts(
    app: FastAPI, settings: Settings
) -> None:
    program = program_with_partner(settings)
    shown = referly(settings.database_url, "partners", "list", "--program", program)
    header, rule, row = shown.stdout.splitlines()[:3]
    assert header.split() == ["ID", "KEY", "EMAIL", "NAME", "STATUS", "REFERRALS", "LINK"]
    assert set(rule.strip()) == {"─"} and "Jane" in row
    scripted = referly(settings.database_url, "partners", "list", "--program", program, "--json")
    [partner] = scripted.one_object()["data"]
    assert set(partner) >= {"id", "key", "email", "name", "referrals_count", "referral_link"}


def test_values_are_checked_where_they_are_given(app: FastAPI, settings: Settings) -> None:
    bad_site = referly(
        settings.database_url, "programs", "create", "--name", "X", "--website", "nope"
    )
    assert bad_site.code == 1 and bad_site.stderr == "error: The website must be an http(s) URL.\n"
    program = program_with_partner(settings)
    nobody = referly(
        settings.database_url, "customers", "list", "--program", program, "--partner", "nobody"
    )
    assert nobody.code == 1 and nobody.stdout == ""
    assert nobody.stderr == f"error: No partner with key nobody in program {program}\n"


def test_flags_carry_no_type_tags_and_every_option_is_described() -> None:
    for command in (["customers", "list"], ["clicks", "list"], ["partners", "list"], ["serve"]):
        shown = referly("sqlite:///:memory:", *command, "--help")
        assert shown.code == 0 and "<bool>" not in shown.stdout
        options = [line for line in shown.stdout.splitlines() if line.startswith("  --")]
        assert options and all(len(line.split(None, 2)) >= 2 for line in options), shown.stdout


async def test_stored_control_characters_never_reach_the_terminal(
    app: FastAPI, settings: Settings
) -> None:
    """A record from before text was checked, holding an escape sequence: listed, it shows as
    `\\x1b`; that shown key erases it."""
    from sqlalchemy import select

    from referly.db.models import Customer, Program
    from referly.db.types import utcnow

    program = program_with_partner(settings)
    async with app.state.sessionmaker() as session, session.begin():
        program_id = await session.scalar(select(Program.id).where(Program.public_id == program))
        now = utcnow()
        session.add(
            Customer(
                program_id=program_id, key="evil\x1b]0;pwned\x07", name="\x1b[2J", tags=[],
                source="api", status="active", created_at=now, updated_at=now,
            )
        )  # fmt: skip
    shown = referly(settings.database_url, "customers", "list", "--program", program)
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "evil\\x1b]0;pwned\\x07" in shown.stdout
    erased = referly(
        settings.database_url, "customers", "delete", "--program", program, "--escaped",
        "evil\\x1b]0;pwned\\x07",
    )  # fmt: skip
    assert erased.code == 0, erased.stderr
    listed = referly(settings.database_url, "customers", "list", "--program", program, "--json")
    assert listed.one_object()["data"] == []


def test_migrating_a_new_database_shows_progress_on_stderr_only(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    done = referly(url, "migrate", "--json")
    assert done.code == 0, done.stderr
    assert done.one_object() == {"migrated": True}
    lines = done.stderr.splitlines()
    assert lines, "a migration with no progress looks stuck"
    total = lines[-1].rsplit(" of ", 1)[1]
    assert lines[-1] == f"migrating the database: {total} of {total}", lines
    again = referly(url, "migrate", "--json")
    assert again.code == 0 and again.stderr == "", again.stderr
