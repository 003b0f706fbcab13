"""The OpenAPI document describes every SPEC §2 route a Partnero client uses, and describes
it completely: every operation, field and parameter has a description, every operation an
example of its request and of each answer, and every example matches its schema."""

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
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
    assert "required" not in schema  # `key`: here, or in the legacy body's `customer`
    assert {"required": ["key"]} in schema["anyOf"]
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


def gaps(openapi: dict[str, Any]) -> list[str]:
    """What a developer reading the document would find missing."""
    found = []
    if len(openapi["info"].get("description", "")) < 2000:
        found.append("the document's description (the guides)")
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            if len(operation.get("description", "")) < 80:
                found.append(f"{name}: description")
            for parameter in operation.get("parameters", []):
                if not parameter.get("description"):
                    found.append(f"{name}: parameter {parameter['name']}")
                if "example" not in parameter and not parameter.get("schema", {}).get("examples"):
                    found.append(f"{name}: example of parameter {parameter['name']}")
            for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
                if not media.get("examples"):
                    found.append(f"{name}: request examples ({media_type})")
            for status, response in operation["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    if "example" not in media and not media.get("examples"):
                        found.append(f"{name}: example of the {status} answer ({media_type})")
    for schema_name, schema in openapi["components"]["schemas"].items():
        if not schema.get("description"):
            found.append(f"schema {schema_name}")
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description"):
                found.append(f"schema {schema_name}: field {field}")
    return found


def examples_with_schemas(openapi: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            parts = [("request", operation.get("requestBody", {}))]
            parts += list(operation["responses"].items())
            for part, described in parts:
                for media in described.get("content", {}).values():
                    named = [e["value"] for e in media.get("examples", {}).values()]
                    for value in [*named, *([media["example"]] if "example" in media else [])]:
                        yield f"{method.upper()} {path} {part}", value, media["schema"]


async def test_every_operation_field_and_parameter_is_described_with_examples(
    openapi: dict[str, Any],
) -> None:
    assert gaps(openapi) == []


async def test_a_missing_description_or_example_is_found(openapi: dict[str, Any]) -> None:
    """The check above can fail: each kind of gap, planted in a complete document, is named."""
    planted = copy.deepcopy(openapi)
    operation = planted["paths"]["/v1/customers"]["post"]
    del operation["description"]
    del operation["requestBody"]["content"]["application/json"]["examples"]
    del operation["responses"]["201"]["content"]["application/json"]["example"]
    listing = planted["paths"]["/v1/customers"]["get"]
    next(p for p in listing["parameters"] if p["name"] == "limit").pop("description")
    del planted["components"]["schemas"]["CustomerOut"]["properties"]["email"]["description"]
    assert gaps(planted) == [
        "POST /v1/customers: description",
        "POST /v1/customers: request examples (application/json)",
        "POST /v1/customers: example of the 201 answer (application/json)",
        "GET /v1/customers: parameter limit",
        "schema CustomerOut: field email",
    ]


async def test_every_example_matches_its_schema(openapi: dict[str, Any]) -> None:
    checked = 0
    for where, value, schema in examples_with_schemas(openapi):
        if schema.get("type") == "string":
            continue  # the script's source
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": openapi["components"]}
        )
        assert [e.message for e in validator.iter_errors(value)] == [], where
        checked += 1
    assert checked > 100


async def test_the_sign_up_guides_request_is_an_example(openapi: dict[str, Any]) -> None:
    seed = {
        "partner": {"key": "UNIQUE_PARTNER_KEY"},
        "key": "CUSTOMER_KEY",
        "email": "customer@partnero.com",
        "name": "Partnero",
    }
    body = openapi["paths"]["/v1/customers"]["post"]["requestBody"]["content"]
    assert seed in [e["value"] for e in body["application/json"]["examples"].values()]
    assert "curl --location --request POST" in openapi["info"]["description"]


async def test_nulls_in_examples_are_kept(openapi: dict[str, Any]) -> None:
    answer = openapi["paths"]["/v1/customers/{key}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["example"]["data"]["deleted_at"] is None
