"""Settings, read from `REFERLY_*` environment variables (or passed explicitly in tests)."""

import ipaddress
import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./referly.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFERLY_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Pool size per server process; SQLite ignores it.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Largest request body the REST API reads, in bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # The origin of this server as clients reach it (`https://referly.example.com`), written
    # into every absolute URL it answers with. Empty: the request's own origin, but only when
    # its host is one of `allowed_hosts`; else URLs are relative (`referly.web.public_url`).
    public_url: str = ""
    # Hosts (names or addresses, no port) whose `Host` header may make absolute URLs when
    # `public_url` is empty; a JSON list or comma-separated.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1", "[::1]"]
    )
    log_level: str = "info"
    # What one client connection may take (see `referly.server.ConnectionLimits`): the size of
    # a request's head, how long its head and its body may take to arrive, and how many
    # connections one server process holds at once (keep it below the process's file limit).
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_connections: int = Field(default=1000, ge=1)
    # REST API rate limit per token (per client IP for requests without one): a bucket of
    # `api_rate_limit_burst` requests refilled at `api_rate_limit_per_minute`. Kept in memory,
    # so each server process counts on its own.
    api_rate_limit_per_minute: int = Field(default=600, ge=1)
    api_rate_limit_burst: int = Field(default=600, ge=1)
    # Requests answered 401 allowed per client IP and minute before that IP gets 429 for
    # tokens it has not used successfully, so tokens cannot be guessed at speed. Behind a
    # reverse proxy, set `trusted_proxies` or every client shares the proxy's allowance.
    api_auth_failures_per_minute: int = Field(default=60, ge=1)
    # Reverse proxies whose `X-Forwarded-For` is believed: IPs or CIDRs, as a JSON list or
    # comma-separated (`10.0.0.0/8,127.0.0.1`). Empty: the peer address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.strip().lower() for host in value]

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise ValueError(f"not an IP address or network: {entry!r}") from error
        return value

    # Public tracking endpoints (`/t/...`, called by the browser script).
    # Largest body a tracking endpoint reads, in bytes.
    tracking_max_body_bytes: int = Field(default=8 * 1024, ge=512, le=1024 * 1024)
    # Token bucket per client IP (see `trusted_proxies`) and program: sustained rate and burst.
    # 0 turns it off. Loopback clients are not limited unless `tracking_limit_loopback`: that
    # is a local proxy not listed in `trusted_proxies` (limiting it would limit every visitor
    # as one) or local tooling.
    tracking_rate_per_minute: int = Field(default=300, ge=0)
    tracking_rate_burst: int = Field(default=100, ge=1)
    tracking_limit_loopback: bool = False
    # How long a program's public settings are cached in each server process.
    tracking_program_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
