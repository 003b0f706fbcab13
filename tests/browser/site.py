# ruff: noqa: E501  (the guide's snippets are copied verbatim, long lines included)
"""A customer's website for the browser tests: static pages on their own port (a different
origin from Referly), reached as `www.example.test`, `app.example.test`, ... through
Chromium's host-resolver rule.

The pages are the public sign-up tracking guide's examples, copied character for character;
only the script's host and the program id are filled in."""

import http.server
import threading
from dataclasses import dataclass, field

PARTNERO_SCRIPT = "https://app.partnero.com/js/universal.js"
WELCOME = "<html><head><title>Welcome</title></head><body><h1>Welcome aboard</h1></body></html>"

# fmt: off
SEED_HTML = """<html>
<head>
<title>Partnero Example</title>
<!-- Partnero Universal -->
<script>
(function(p,t,n,e,r,o){ p['__partnerObject']=r;function f(){
var c={ a:arguments,q:[]};var r=this.push(c);return "number"!=typeof r?r:f.bind(c.q);}
f.q=f.q||[];p[r]=p[r]||f.bind(f.q);p[r].q=p[r].q||f.q;o=t.createElement(n);
var _=t.getElementsByTagName(n)[0];o.async=1;o.src=e+'?v'+(~~(new Date().getTime()/1e6));
_.parentNode.insertBefore(o,_);})(window, document, 'script', 'https://app.partnero.com/js/universal.js', 'po');
po('settings', 'assets_host', 'https://assets.partnero.com');
po('program', 'PUBLIC_PROGRAM_ID', 'load');
</script>
<!-- End Partnero Universal -->
</head>
<body>
<form id="form-example">
<label for="name">Your name</label>
<input id="name" type="text" name="name" />
<label for="email">Your email:</label>
<input id="email" type="email" name="email" />
<label for="password">Password:</label>
<input id="password" type="password" name="password" required>
<input type="submit" id="submit-button" value="Submit" />
</form>
</body>
</html>"""

UNIVERSAL = """<script>
po('integration', 'universal', null);
</script>"""

JS_SIGNUP = """<script>
po('customers',
'signup', {
data: {
key: 'customer_123456', // or email address
name: 'John',
email: 'john.doe@partnero.com'
}
}
);
</script>"""

JS_SIGNUP_WITH_PARTNER = """<script>
po('customers',
'signup', {
data: {
key: 'customer_123456', // or email address
name: 'John',
email: 'john.doe@partnero.com',
partner: {
key: '{UNIQUE_PARTNER_KEY}'
}
}
}
);
</script>"""

JS_FORM_EXAMPLE = """<script>
document.addEventListener('DOMContentLoaded', function () {
const form = document.getElementById('form-example');
if (form) {
form.addEventListener('submit', function (event) {
event.preventDefault();
const name = form.querySelector('input[name="name"]').value;
const email = form.querySelector('input[name="email"]').value;
if (email) {
po('customers', 'signup', {
data: {
key: email,
name: name,
email: email
}
});
}
});
}
});
</script>"""
# fmt: on


def seed_html_page(referly_url: str, public_id: str) -> str:
    """The guide's "Example of HTML signup form", loader included, pointed at Referly."""
    page = SEED_HTML.replace(PARTNERO_SCRIPT, f"{referly_url}/js/universal.js")
    return page.replace("PUBLIC_PROGRAM_ID", public_id)


def js_signup_snippet(partner_key: str | None) -> str:
    """The guide's JavaScript sign-up call: without `partner`, or with it set to the key."""
    if partner_key is None:
        return JS_SIGNUP
    return JS_SIGNUP_WITH_PARTNER.replace("{UNIQUE_PARTNER_KEY}", partner_key)


def with_body_end(page: str, *snippets: str) -> str:
    """Snippets placed at the bottom of the page, as the guide says."""
    return page.replace("</body>", "\n".join(snippets) + "\n</body>")


def with_form_action(page: str, action: str, method: str = "post") -> str:
    return page.replace(
        '<form id="form-example">', f'<form id="form-example" action="{action}" method="{method}">'
    )


@dataclass
class Site:
    port: int
    pages: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, html: str, host: str = "www") -> str:
        """Serve `html` at `path` (any query string); the URL on `host`.example.test."""
        self.pages[path.split("?", 1)[0]] = html
        return self.url(path, host)

    def url(self, path: str, host: str = "www") -> str:
        return f"http://{host}.example.test:{self.port}{path}"

    @property
    def origin(self) -> str:
        return f"http://www.example.test:{self.port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "SiteServer"

    def do_GET(self) -> None:
        self._page()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._page()

    def _page(self) -> None:
        path = self.path.split("?", 1)[0]
        html = self.server.site.pages.get(path, WELCOME if path == "/welcome" else None)
        body = (html or "not found").encode()
        self.send_response(200 if html else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site


def start_site() -> SiteServer:
    server = SiteServer(("127.0.0.1", 0), _Handler)
    server.site = Site(port=int(server.server_address[1]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
