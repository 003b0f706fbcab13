"""The public sign-up tracking guide's API example works verbatim: its request body through the
app, and its `curl` command against a real server with only the host and token filled in."""

import asyncio
import json

from fastapi import FastAPI
from sqlalchemy import select

from referly.db.models import Customer, Partner, Program
from tests.builders import Cast
from tests.live import LiveServer
from tests.live_programs import live_program

# Copied character for character from the guide ("Partnero API sign-up tracking").
GUIDE_BODY = """{
"partner": {
"key": "UNIQUE_PARTNER_KEY"
},
"key": "CUSTOMER_KEY",
"email": "customer@partnero.com",
"name": "Partnero"
}"""

GUIDE_CURL = """curl --location --request POST 'https://api.partnero.com/v1/customers' \\
--header 'Accept: application/json' \\
--header 'Authorization: Bearer YOUR_API_TOKEN' \\
--header 'Content-Type: application/json' \\
--data-raw '{
"partner": {
"key": "UNIQUE_PARTNER_KEY"
},
"key": "CUSTOMER_KEY",
"email": "customer@partnero.com",
"name": "Partnero"
}'"""

GUIDE_HOST = "https://api.partnero.com"

EXPECTED = {
    "key": "CUSTOMER_KEY",
    "partner": "UNIQUE_PARTNER_KEY",
    "email": "customer@partnero.com",
    "name": "Partnero",
}


async def run_in_shell(command: str) -> tuple[int, str, str]:
    """Run a command the way a user pasting it into a terminal would."""
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def credited_partner_key(app: FastAPI, public_id: str, customer_key: str) -> str | None:
    """Read the stored row itself, not an API answer."""
    async with app.state.sessionmaker() as session:
        statement = (
            select(Partner.key)
            .join(Customer, Customer.partner_id == Partner.id)
            .join(Program, Program.id == Customer.program_id)
            .where(Program.public_id == public_id, Customer.key == customer_key)
        )
        return await session.scalar(statement)


async def test_the_guides_request_body_creates_an_attributed_customer(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("partner@example.com", key="UNIQUE_PARTNER_KEY")
    response = await cast.alice.api.post(
        "/v1/customers", content=GUIDE_BODY, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == 1
    assert {field: body["data"][field] for field in EXPECTED} == EXPECTED
    stored = await credited_partner_key(app, cast.alice.public_id, "CUSTOMER_KEY")
    assert stored == "UNIQUE_PARTNER_KEY"


async def test_the_guides_curl_command_works_against_a_real_server(
    app: FastAPI, live_server: LiveServer
) -> None:
    program = await asyncio.to_thread(
        live_program, live_server, "Guide", [("partner@example.com", "UNIQUE_PARTNER_KEY")]
    )
    command = GUIDE_CURL.replace(GUIDE_HOST, live_server.url).replace(
        "YOUR_API_TOKEN", program.token
    )
    returncode, stdout, stderr = await run_in_shell(command)
    assert returncode == 0, stderr
    body = json.loads(stdout)
    assert body["status"] == 1, body
    assert {field: body["data"][field] for field in EXPECTED} == EXPECTED
    stored = await credited_partner_key(app, program.public_id, "CUSTOMER_KEY")
    assert stored == "UNIQUE_PARTNER_KEY"
    _, repeated, _ = await run_in_shell(command)
    assert json.loads(repeated) == {
        "message": "Duplicate key",
        "errors": {
            "key": ["The key has already been taken."],
            "email": ["The email has already been taken."],
        },
        "status": 0,
    }
