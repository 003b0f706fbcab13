"""The README's sign-up request in Python, Node.js and PHP, each run as written against a live
server: read from the README itself, so the README cannot drift from what works."""

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.live import LiveServer
from tests.live_programs import live_program

README = Path(__file__).parents[1] / "README.md"
RUNNERS = {
    "python": [sys.executable, "-"],
    "js": ["node", "--input-type=module", "-"],
    "php": ["php"],
}


def example(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)
    [block] = [b for b in blocks if "CUSTOMER_KEY" in b]
    return block


@pytest.mark.parametrize("language", list(RUNNERS))
def test_the_readme_example_creates_the_customer(live_server: LiveServer, language: str) -> None:
    command = RUNNERS[language]
    if shutil.which(command[0]) is None:
        message = f"{command[0]} is not installed: run `bash scripts/install-system-packages.sh`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    partner_key = f"readme-{language}-{uuid.uuid4().hex[:6]}"
    program = live_program(
        live_server, f"README {language}", partners=[(f"{partner_key}@example.com", partner_key)]
    )
    customer_key = f"customer-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "REFERLY_URL": live_server.url,
        "REFERLY_TOKEN": program.token,
        "PARTNER_KEY": partner_key,
        "CUSTOMER_KEY": customer_key,
    }
    done = subprocess.run(
        command, input=example(language), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == partner_key
    [customer] = live_server.cli("customers", "list", "--program", program.public_id)["data"]
    assert (customer["key"], customer["partner"]) == (customer_key, partner_key)
