"""The OpenAPI document describes every SPEC §2 route a Partnero client uses."""

from typing import Any

import httpx
import pytest

# (method, path, request body schema or None, success status, success schema)
ROUTES = [
    ("post", "/v1/customers", "CustomerCreateIn", "201", "Envelope_CustomerOut_"),
    ("get", "/v1/customers", None, "200", "ListEnvelope_CustomerOut_"),
    ("get", "/v1/customers:search", None, "200", "Envelope_list_CustomerOut__"),
    ("get", "/v1/customers/{key}", None, "200", "Envelope_CustomerOut_"),
    ("put", "/v1/customers/{key}", "CustomerUpdateIn", "200", "Envelope_CustomerOut_"),
    ("delete", "/v1/customers/{key}", None, "200", "StatusOnly"),
    ("post", "/v1/customers/{key}/suspend", None, "200", "StatusOnly"),
    ("post", "/v1/customers/{key}/approve", None, "200", "StatusOnly"),
    ("post", "/v1/partners", "PartnerCreateIn", "201", "Envelope_PartnerOut_"),
    ("get", "/v1/partners", None, "200", "ListEnvelope_PartnerOut_"),
    ("get", "/v1/partners:search", None, "200", "Envelope_list_PartnerOut__"),
    ("get", "/v1/partners/{id}", None, "200", "Envelope_PartnerOut_"),
    ("put", "/v1/partners/{id}", "PartnerUpdateIn", "200", "Envelope_PartnerOut_"),
    ("delete", "/v1/partners/{id}", None, "200", "StatusOnly"),
    (
        "post",
        "/v1/partner_referral_links",
        "ReferralLinkCreateIn",
        "201",
        "Envelope_ReferralLinkOut_",
    ),
    ("get", "/v1/partners/{id}/referral_links", None, "200", "ListEnvelope_ReferralLinkOut_"),
    ("get", "/v1/partner_referral_links/{key}", None, "200", "Envelope_ReferralLinkOut_"),
    ("delete", "/v1/partner_referral_links/{key}", None, "200", "StatusOnly"),
]


def schema_ref(part: dict[str, Any]) -> str:
    return str(part["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(("method", "path", "body", "status", "success"), ROUTES)
async def test_each_route_is_documented_with_its_bodies_and_errors(
    openapi: dict[str, Any], method: str, path: str, body: str | None, status: str, success: str
) -> None:
    operation = openapi["paths"][path][method]
    if body is None:
        assert "requestBody" not in operation
    else:
        assert schema_ref(operation["requestBody"]) == body
    assert schema_ref(operation["responses"][status]) == success
    for error_status in ("400", "401", "404", "422"):
        assert schema_ref(operation["responses"][error_status]) == "ErrorOut", error_status


async def test_the_customer_list_documents_every_partner_filter_spelling(
    openapi: dict[str, Any],
) -> None:
    parameters = openapi["paths"]["/v1/customers"]["get"]["parameters"]
    names = {p["name"] for p in parameters if p["in"] == "query"}
    assert {"limit", "page", "partner.key", "partner_key", "partner[key]"} <= names
    assert {"partner.email", "partner_email", "partner[email]"} <= names


async def test_the_documented_customer_bodies_show_both_spellings(
    openapi: dict[str, Any],
) -> None:
    schemas = openapi["components"]["schemas"]
    schema = schemas["CustomerCreateIn"]
    assert schema["required"] == ["key"]
    fields = {"key", "email", "name", "surname", "tags", "partner", "options", "customer"}
    assert fields == set(schema["properties"])
    assert "update" in schemas["CustomerUpdateIn"]["properties"]
    assert "update" in schemas["PartnerUpdateIn"]["properties"]
    error = openapi["components"]["schemas"]["ErrorOut"]
    assert {"message", "status", "errors"} == set(error["properties"])


async def test_the_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "swagger-ui" in response.text and "/openapi.json" in response.text
