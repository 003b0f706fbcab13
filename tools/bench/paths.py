"""What the benchmark measures: one small declarative entry per path.

Templates may use `$public_id`, `$partner_key` and `$token` (filled from the bench program) and,
in bodies, `$unique`: a value new for every request (per wrk thread counter and thread id), for
paths that must create a new record each time."""

from dataclasses import dataclass, field
from string import Template


@dataclass(frozen=True)
class Target:
    """What the docs promise for a path: throughput as a share of the ceiling, p99 latency, and
    the server's peak memory."""

    min_ratio: float
    max_p99_ms: float
    max_rss_mb: float = 150


@dataclass(frozen=True)
class BenchPath:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    table: str | None = None  # each 2xx answer must have added exactly one row here
    target: Target | None = None
    server: str = "referly"  # or "ceiling"

    @property
    def label(self) -> str:
        path = self.path.split("?", 1)[0].replace("$public_id", "{id}")
        return f"{self.method} {path}"


@dataclass(frozen=True)
class Fixture:
    """The bench program the templates are filled from."""

    public_id: str
    partner_key: str
    token: str

    def fill(self, template: str) -> str:
        values = {"public_id": self.public_id, "partner_key": self.partner_key}
        return Template(template).safe_substitute(values, token=self.token)


TEXT_PLAIN = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"}
BROWSER_GET = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate, br, zstd"}
API = {
    "Authorization": "Bearer $token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}

CEILING = BenchPath(name="ceiling", method="GET", path="/", server="ceiling")

PATHS: dict[str, BenchPath] = {
    path.name: path
    for path in (
        BenchPath(
            name="click",
            method="POST",
            path="/t/$public_id/clicks",
            headers=TEXT_PLAIN,
            body=(
                '{"key":"$partner_key","url":"https://shop.example/pricing?aff=$partner_key",'
                '"referrer":"https://blog.example/review","visitor":"c-$unique"}'
            ),
            table="clicks",
            target=Target(min_ratio=0.30, max_p99_ms=25),
        ),
        BenchPath(
            name="js-signup",
            method="POST",
            path="/t/$public_id/signups",
            headers=TEXT_PLAIN,
            body=(
                '{"data":{"key":"js-$unique","name":"Bench","email":"js-$unique@example.com",'
                '"partner":{"key":"$partner_key"}},"visitor":"s-$unique"}'
            ),
            table="customers",
            target=Target(min_ratio=0.20, max_p99_ms=30),
        ),
        BenchPath(
            name="api-customer",
            method="POST",
            path="/v1/customers",
            headers=API,
            body=(
                '{"partner":{"key":"$partner_key"},"key":"api-$unique",'
                '"email":"api-$unique@example.com","name":"Bench"}'
            ),
            table="customers",
            target=Target(min_ratio=0.06, max_p99_ms=50),
        ),
        BenchPath(
            name="universal-js",
            method="GET",
            path="/js/universal.js?v1763900",
            headers=BROWSER_GET,  # as a page's <script> fetches it: the gzipped variant
            target=Target(min_ratio=0.70, max_p99_ms=10),
        ),
        # Reference points, not in the default set: an authenticated read, and a REST create.
        BenchPath(name="api-test", method="GET", path="/v1/test", headers=API),
        BenchPath(
            name="api-partner",
            method="POST",
            path="/v1/partners",
            headers=API,
            body='{"email":"p-$unique@example.com","key":"p-$unique"}',
            table="partners",
        ),
    )
}

DEFAULT_PATHS = ("click", "js-signup", "api-customer", "universal-js")
