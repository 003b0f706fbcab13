"""Every HTML page Referly serves (`/docs`, `/demo/{id}`) carries security headers
and loads its scripts and styles from Referly itself, from a pinned package: nothing from a
CDN, so a server without internet access shows them complete."""

import re

import httpx
import pytest

from tests.builders import Cast

PAGES = ("/docs",)


def assets_of(page: str) -> list[str]:
    return re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", page)


@pytest.mark.parametrize("path", PAGES)
async def test_the_api_docs_are_served_whole_by_referly(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200 and page.text.startswith("<!doctype html>")
    assets = assets_of(page.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        answer = await client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 0
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "cdn" not in page.text.lower()


async def test_every_page_has_the_security_headers(client: httpx.AsyncClient, cast: Cast) -> None:
    for path in (*PAGES, f"/demo/{cast.alice.public_id}"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_the_demo_page_allows_only_its_own_inline_scripts(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    page = await client.get(f"/demo/{cast.alice.public_id}")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce is not None
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in attributes for attributes in scripts)
    again = await client.get(f"/demo/{cast.alice.public_id}")
    assert again.headers["content-security-policy"] != page.headers["content-security-policy"]


async def test_json_answers_are_not_sniffed_either(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/test")
    assert answer.status_code == 401
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_there_is_no_redoc_page_that_would_call_a_cdn(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404
