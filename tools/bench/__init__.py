"""`scripts/bench` (`python -m tools.bench`): measures the public endpoints against a bare ASGI
app (the ceiling) on the same server settings, on SQLite and PostgreSQL, and checks that every
2xx answer left exactly one row. See docs/benchmarks.md."""
