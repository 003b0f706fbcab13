"""No email, name or token in any log line: a live `referly serve` at debug level is driven
through every kind of request that carries personal data (in the path, the query, the body,
a refusal, a deletion), and its whole log is searched for them."""

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from referly.config import Settings
from tests.live import LiveServer, start_live_server
from tests.test_tokens import live_token


@pytest.fixture(scope="module")
def chatty_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    server = start_live_server(
        settings.database_url, tmp_path_factory.mktemp("logs"), log_level="debug"
    )
    yield server
    server.stop()


def test_personal_data_never_reaches_the_log(chatty_server: LiveServer) -> None:
    token, _prefix, public_id = live_token(chatty_server, "Logged program")
    api = httpx.Client(
        base_url=chatty_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    run = uuid.uuid4().hex[:8]
    email, name = f"ann.secret.{run}@example.com", f"Annsecret{run}"
    partner = api.post("/v1/partners", json={"email": f"p{run}@example.com", "name": name})
    key = partner.json()["data"]["key"]
    customer = {"key": email, "email": email, "name": name, "partner": {"key": key}}
    assert api.post("/v1/customers", json=customer).status_code == 201
    assert api.post("/v1/customers", json=customer).status_code == 422  # the duplicate
    assert api.get(f"/v1/customers/{email}").status_code == 200
    assert api.get("/v1/customers:search", params={"email": email}).status_code == 200
    assert api.get("/v1/customers", params={"partner.email": f"p{run}@example.com"}).is_success
    assert api.put(f"/v1/customers/{email}", json={"name": name + "x"}).status_code == 200
    bad = {"key": "k", "email": email + "\x01", "partner": {"key": key}}
    assert api.post("/v1/customers", json=bad).status_code == 422
    signup = {"key": f"js-{email}", "email": f"js-{email}", "name": name, "partner": key}
    assert httpx.post(f"{chatty_server.url}/t/{public_id}/signups", json=signup).status_code == 202
    assert api.delete(f"/v1/customers/{email}").status_code == 200
    assert httpx.get(f"{chatty_server.url}/v1/test?email={email}").status_code == 401
    time.sleep(0.5)
    log = chatty_server.log_path.read_text(errors="replace")
    assert "DELETE /v1/customers/{key} 200" in log  # requests are logged ...
    for secret in (email, email.split("@")[0], name, token, token.split("_")[2]):
        assert secret not in log, secret  # ... without what they carried
