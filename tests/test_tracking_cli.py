"""`referly programs update` and `referly clicks list`, run as an operator runs them, against
a real `referly serve` on SQLite and PostgreSQL."""

import json
import os
import subprocess
import sys
import urllib.request

from tests.live import LiveServer
from tests.live_programs import live_program


def post_click(server: LiveServer, public_id: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"{server.url}/t/{public_id}/clicks",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def cli_failure(server: LiveServer, *args: str) -> str:
    env = {**os.environ, "REFERLY_DATABASE_URL": server.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "referly", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_programs_update_changes_the_tracking_settings(live_server: LiveServer) -> None:
    program = live_program(live_server, "CLI settings")
    updated = live_server.cli(
        "programs", "update", program.public_id,
        "--param", "aff", "--param", "via",
        "--cookie-days", "90",
        "--cookie-domain", ".Shop.Example",
        "--attribution", "first_click",
        "--allowed-origin", "https://www.shop.example/",
        "--allowed-origin", "https://*.shop.example:8443",
        "--website", "https://www.shop.example",
    )  # fmt: skip
    assert updated["url_params"] == ["aff", "via"]
    assert updated["cookie_lifetime_days"] == 90
    assert updated["cookie_domain"] == "shop.example"
    assert updated["attribution"] == "first_click"
    assert updated["allowed_origins"] == [
        "https://www.shop.example",
        "https://*.shop.example:8443",
    ]
    assert updated["website"] == "https://www.shop.example"
    kept = live_server.cli("programs", "update", program.public_id, "--any-origin")
    assert kept["allowed_origins"] == []
    assert kept["cookie_lifetime_days"] == 90  # options left out keep their value


def test_programs_update_refuses_bad_values_and_changes_nothing(live_server: LiveServer) -> None:
    program = live_program(live_server, "CLI refusals")
    cases = [
        (["--param", "has space"], "URL parameters"),
        (["--cookie-days", "0"], "cookie lifetime"),
        (["--cookie-days", "401"], "cookie lifetime"),
        (["--cookie-domain", "not a domain"], "cookie domain"),
        (["--cookie-domain", "com"], "cookie domain"),
        (["--attribution", "linear"], "attribution"),
        (["--allowed-origin", "shop.example"], "Not an origin"),
        (["--website", "ftp://shop.example"], "website"),
        (["--cookie-days", "30", "--attribution", "sometimes"], "attribution"),
    ]
    for args, problem in cases:
        assert problem in cli_failure(live_server, "programs", "update", program.public_id, *args)
    [listed] = [
        p for p in live_server.cli("programs", "list")["data"] if p["id"] == program.public_id
    ]
    assert listed["cookie_lifetime_days"] == 30
    assert listed["attribution"] == "last_click"
    assert listed["url_params"] == ["aff"]
    assert "not found" in cli_failure(
        live_server, "programs", "update", "ZZZZ9999", "--cookie-days", "5"
    )


def test_clicks_list_shows_the_clicks_the_server_recorded(live_server: LiveServer) -> None:
    program = live_program(live_server, "CLI clicks", partners=[("jane@example.com", "jane")])
    body = {
        "key": "JANE",
        "url": "https://www.shop.example/?aff=JANE",
        "referrer": "https://r.example/",
    }
    assert post_click(live_server, program.public_id, body) == 202
    assert post_click(live_server, program.public_id, {"key": "nobody"}) == 202
    [click] = live_server.cli("clicks", "list", "--program", program.public_id)["data"]
    assert click["partner"] == "jane"
    assert click["referral_key"] == "jane"
    assert click["landing_url"] == "https://www.shop.example/?aff=JANE"
    assert click["referrer"] == "https://r.example/"
    assert click["created_at"].endswith("Z")
