"""The third-party `partnero` SDK (PyPI, v0.4.0) works against a real Referly server.

Its calls are synchronous (`requests`), so these tests are plain functions talking to a real
`referly serve` process. The SDK keeps its API key in a process-wide singleton, so every test
builds its own client, which configures it afresh."""

import uuid

import pytest
from partnero import PartneroClient
from partnero.base_api import PartneroAPIException

from tests.live import LiveServer
from tests.live_programs import LiveProgram, live_program

STRONG_PASSWORD = "W6qtZMGyCD6Gj2Zr"


def connect(server: LiveServer, program: LiveProgram) -> PartneroClient:
    client = PartneroClient(program.token)
    client.partner.base_url = client.customer.base_url = f"{server.url}/v1/"
    return client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_the_sdk_manages_partners(live_server: LiveServer) -> None:
    client = connect(live_server, live_program(live_server, "SDK partners"))
    assert client.partner.list_partners()["data"] == []
    email = f"{unique('sdk')}@example.com"
    created = client.partner.create_partner(email=email, name="Sally", password=STRONG_PASSWORD)
    assert created["status"] == 1
    partner = created["data"]
    assert (partner["email"], partner["name"]) == (email, "Sally")
    assert partner["id"] and partner["key"]  # generated: the SDK sent id and key as null

    listed = client.partner.list_partners(limit=5, page=1)
    assert [p["id"] for p in listed["data"]] == [partner["id"]]
    assert listed["meta"]["per_page"] == 5 and listed["links"]["next"] is None
    for search in ({"email": email.upper()}, {"name": "sally"}, {"partner_id": partner["id"]}):
        found = client.partner.get_partner(**search)
        assert [p["id"] for p in found["data"]] == [partner["id"]], search

    updated = client.partner.update_partner(partner["id"], surname="Smith", name="Sal")
    assert (updated["data"]["name"], updated["data"]["surname"]) == ("Sal", "Smith")
    assert client.partner.delete_partner(partner["id"]) == {"status": 1}
    assert client.partner.get_partner(email=email)["data"] == []
    with pytest.raises(PartneroAPIException) as gone:
        client.partner.delete_partner(partner["id"])
    assert gone.value.status_code == 404


def test_the_sdk_reports_partner_errors_in_partneros_words(live_server: LiveServer) -> None:
    client = connect(live_server, live_program(live_server, "SDK partner errors"))
    email = f"{unique('dup')}@example.com"
    client.partner.create_partner(email=email, name="First", password=STRONG_PASSWORD)
    with pytest.raises(PartneroAPIException) as duplicate:
        client.partner.create_partner(email=email, name="Second", password=STRONG_PASSWORD)
    taken = (422, "The email has already been taken.")  # the field that clashed, named
    assert (duplicate.value.status_code, duplicate.value.message) == taken
    with pytest.raises(PartneroAPIException) as weak:
        client.partner.create_partner(email="weak@example.com", name="Weak", password="123")
    assert weak.value.status_code == 422


def test_the_sdk_manages_customers(live_server: LiveServer) -> None:
    program = live_program(live_server, "SDK customers", [("owner@example.com", "sdk-owner")])
    client = connect(live_server, program)
    assert client.customer.list_customers()["data"] == []
    created = client.customer.create_customer("SDK-OWNER", "cust-1", "one@example.com", "One")
    assert created["status"] == 1
    assert (created["data"]["key"], created["data"]["partner"]) == ("cust-1", "sdk-owner")
    client.customer.create_customer("sdk-owner", "cust-2", "two@example.com", "Two")

    listed = client.customer.list_customers(limit=1, page=2)
    assert [c["key"] for c in listed["data"]] == ["cust-2"]
    assert listed["meta"]["current_page"] == 2 and listed["links"]["next"] is None
    by_email = client.customer.get_customer(email="ONE@example.com")
    assert [c["key"] for c in by_email["data"]] == ["cust-1"]
    by_key = client.customer.get_customer(customer_key="cust-2")
    assert [c["email"] for c in by_key["data"]] == ["two@example.com"]

    updated = client.customer.update_customer("cust-1", email="uno@example.com", name="Uno")
    assert (updated["data"]["email"], updated["data"]["name"]) == ("uno@example.com", "Uno")
    assert client.customer.delete_customer("cust-1") == {"status": 1}
    assert client.customer.get_customer(customer_key="cust-1")["data"] == []
    assert [c["key"] for c in client.customer.list_customers()["data"]] == ["cust-2"]


def test_the_sdk_reports_customer_errors_in_partneros_words(live_server: LiveServer) -> None:
    program = live_program(live_server, "SDK customer errors", [("o@example.com", "err-owner")])
    client = connect(live_server, program)
    with pytest.raises(PartneroAPIException) as invalid:
        client.customer.create_customer("nobody", "c1", "c1@example.com", "C")
    assert (invalid.value.status_code, invalid.value.message) == (400, "Invalid partner key")
    client.customer.create_customer("err-owner", "c1", "c1@example.com", "C")
    with pytest.raises(PartneroAPIException) as duplicate:
        client.customer.create_customer("err-owner", "c1", "other@example.com", "C")
    assert (duplicate.value.status_code, duplicate.value.message) == (422, "Duplicate key")
    with pytest.raises(PartneroAPIException) as missing:
        client.customer.update_customer("ghost", name="G")
    assert missing.value.status_code == 404


def test_a_wrong_token_is_refused(live_server: LiveServer) -> None:
    client = connect(live_server, LiveProgram(public_id="NONE", token="rfl_00000000_wrong"))
    with pytest.raises(PartneroAPIException) as refused:
        client.customer.list_customers()
    assert (refused.value.status_code, refused.value.message) == (401, "Unauthenticated.")
