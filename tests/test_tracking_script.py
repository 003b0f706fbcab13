"""`GET /js/universal.js`, `GET /t/{id}/settings` and the demo page, on SQLite and PostgreSQL."""

import gzip
import subprocess
import sys

import httpx
from fastapi import FastAPI

from referly.static.build import SIZE_BUDGET, compact, load_script, read_source
from tests.builders import Cast, make_program
from tests.tracking_helpers import SITE, configure


async def test_the_script_is_served_for_any_query_with_caching_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/js/universal.js?v1763900", headers={"Accept-Encoding": "identity"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "max-age" in response.headers["cache-control"]
    assert "content-encoding" not in response.headers
    assert response.content == load_script().body
    assert response.text.startswith("(function(")
    etag = response.headers["etag"]
    again = await client.get(
        "/js/universal.js?v1763901",
        headers={"Accept-Encoding": "identity", "If-None-Match": etag},
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_the_script_is_gzipped_when_the_client_accepts_it(client: httpx.AsyncClient) -> None:
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
        request = raw.build_request("GET", "/js/universal.js", headers={"Accept-Encoding": "gzip"})
        response = await raw.send(request, stream=True)
        compressed = b"".join([part async for part in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["vary"]
    assert len(compressed) <= SIZE_BUDGET
    assert gzip.decompress(compressed) == load_script().body
    plain = await client.get("/js/universal.js", headers={"Accept-Encoding": "identity"})
    assert response.headers["etag"] != plain.headers["etag"]


def test_the_script_is_within_its_size_budget_and_the_command_says_so() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "referly.static.size"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    gzipped = len(load_script().gzipped)
    assert gzipped <= SIZE_BUDGET
    assert f"{gzipped} bytes gzipped" in done.stdout


def test_compacting_keeps_strings_and_regexes_and_drops_comments() -> None:
    source = """
    // a comment
    var a = 'x  // not a comment', b = /a b\\/c[/]d/g; /* block */
    function f (x) {
      return x + +1;
    }
    """
    assert (
        compact(source)
        == "var a='x  // not a comment',b=/a b\\/c[/]d/g;function f(x){return x+ +1}\n"
    )
    served = compact(read_source())
    assert "//" not in served.replace("'/'", "").replace("://", "")
    assert "password" not in served


async def test_settings_tell_the_script_the_programs_rules(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    program = await make_program(app, client, "Settings program")
    await configure(
        app,
        program.public_id,
        url_params=["aff", "via"],
        cookie_lifetime_days=60,
        cookie_domain="host",
        attribution="first_click",
    )
    response = await client.get(f"/t/{program.public_id}/settings", headers={"Origin": SITE})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == SITE
    assert "access-control-allow-credentials" not in response.headers
    assert response.json() == {
        "id": program.public_id,
        "type": "affiliate",
        "url_params": ["aff", "via"],
        "cookie_name": "partnero_partner",
        "cookie_lifetime_days": 60,
        "cookie_domain": "host",
        "attribution": "first_click",
        "p": ["aff", "via"],
        "c": "partnero_partner",
        "n": 60,
        "m": "",
        "f": True,
    }


async def test_refer_a_friend_programs_use_their_own_cookie_and_param(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    program = await make_program(app, client, "Friends", type="referral")
    settings = (await client.get(f"/t/{program.public_id}/settings")).json()
    assert (settings["c"], settings["p"], settings["m"], settings["f"]) == (
        "partnero_referral",
        ["ref"],
        "auto",
        False,
    )


async def test_settings_refuse_a_disallowed_origin(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    program = await make_program(app, client, "Locked program")
    await configure(app, program.public_id, allowed_origins=["https://www.shop.example"])
    allowed = await client.get(f"/t/{program.public_id}/settings", headers={"Origin": SITE})
    refused = await client.get(
        f"/t/{program.public_id}/settings", headers={"Origin": "https://evil.example"}
    )
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["status"] == 0


async def test_the_demo_page_wires_the_guides_form_to_the_program(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    response = await client.get(f"/demo/{cast.alice.public_id}")
    assert response.status_code == 200
    page = response.text
    assert "'http://testserver/js/universal.js', 'po');" in page.replace('"', "'")
    assert f"po('program', \"{cast.alice.public_id}\", 'load');" in page
    assert "po('integration', 'universal', null);" in page
    assert '<form id="form-example">' in page
    assert (await client.get("/demo/ZZZZ9999")).status_code == 404
