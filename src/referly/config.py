"""Settings, read from `REFERLY_*` environment variables (or passed explicitly in tests)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./referly.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFERLY_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Pool size per server process; SQLite ignores it.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Largest request body the REST API reads, in bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Public origin of this server, used in links when requests arrive through a proxy that
    # hides it. Empty means: take it from the request.
    public_url: str = ""
    log_level: str = "info"
