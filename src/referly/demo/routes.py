"""`GET /demo/{public_id}`: the guide's example sign-up page, wired to a program and to this
server, so the whole path can be tried by hand in a browser."""

import html
import json
import secrets
from importlib import resources
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from referly.db.models import Program
from referly.domain.cookies import COOKIE_NAME
from referly.domain.programs import get_program
from referly.web.public_url import public_origin

router = APIRouter(include_in_schema=False)
PAGE = Template(resources.files("referly.demo").joinpath("page.html").read_text("utf-8"))


@router.get("/demo/{public_id}")
async def demo_page(public_id: str, request: Request) -> HTMLResponse:
    async with request.app.state.sessionmaker() as session:
        program = await get_program(session, public_id)
    origin = public_origin(request, request.app.state.settings)
    nonce = secrets.token_urlsafe(16)
    policy = (
        f"default-src 'self'; script-src 'self' {origin} 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; connect-src 'self' {origin}; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
    )
    page = render(program, origin, nonce)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def render(program: Program, base_url: str, nonce: str) -> str:
    return PAGE.substitute(
        nonce=nonce,
        program_name=html.escape(program.name),
        public_id=json.dumps(program.public_id),
        public_id_text=program.public_id,
        script_url=json.dumps(f"{base_url}/js/universal.js"),
        base_url=json.dumps(base_url),
        base_url_text=html.escape(base_url),
        param=html.escape(program.url_params[0]),
        cookie_name=COOKIE_NAME[program.type],
    )
