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
