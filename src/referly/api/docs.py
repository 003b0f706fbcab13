"""`/docs` (Swagger UI), served entirely by Referly: its scripts and styles come from a pinned
package dependency (`fastapi-offline`'s bundled copy), so a server without internet access
shows it complete, and the page loads nothing from elsewhere. (No ReDoc page: ReDoc fetches
its logo from its vendor's CDN.)"""

import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
VENDORED = Path(str(resources.files("fastapi_offline") / "static"))
OWN = Path(str(resources.files("referly.api") / "docs_assets"))
# Swagger UI sets styles inline, so those are allowed; scripts come from this server only.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    document = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        f"<link rel='icon' type='image/png' href='{ASSETS}/vendor/favicon.png'>{head}</head>"
        f"<body style='margin:0'>{body}</body></html>"
    )
    return HTMLResponse(document, headers={"Content-Security-Policy": DOCS_POLICY})


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add the page (the app is made with `docs_url=None`)."""
    openapi = html.escape(app.openapi_url or "/openapi.json")
    app.mount(f"{ASSETS}/vendor", StaticFiles(directory=VENDORED), name="docs-vendor")
    app.mount(f"{ASSETS}/own", StaticFiles(directory=OWN), name="docs-own")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        head = f"<link rel='stylesheet' href='{ASSETS}/vendor/swagger-ui.css'>"
        body = (
            f"<div id='swagger-ui' data-openapi='{openapi}'></div>"
            f"<script src='{ASSETS}/vendor/swagger-ui-bundle.js'></script>"
            f"<script src='{ASSETS}/own/init.js'></script>"
        )
        return _page(f"{app.title} — API", head, body)
