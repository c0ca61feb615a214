"""Settings, read once at start-up from the environment (prefix-free names) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # postgresql+asyncpg://user:pass@host/db; unset → an embedded PostgreSQL under ``data_dir``.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".anzhi"
    # Keys for sessions, CSRF, field encryption and lookup hashes. The development default is refused when
    # ANZHI_ENV=production.
    secret_key: str = Field(default="dev-only-secret-change-me", min_length=16)
    env: str = Field(default="development", alias="ANZHI_ENV")
    # The restricted role the application switches to after connecting (created by the migrations).
    db_app_role: str = "anzhi_app"
    session_hours: int = 8
    api_token_hours: int = 12
    cookie_secure: bool = False
    # Failed logins: slow after this many, lock after that many, for this long.
    login_slow_after: int = 3
    login_lock_after: int = 10
    login_lock_minutes: int = 15
    log_level: str = "INFO"
    # The address residents reach this service at (``https://anzhi.example.gov.cn``): printed in front of the
    # verification link of an agreement's QR code so a phone can open it. Unset: the path alone.
    public_base_url: str | None = None
    # The public status lookup (/query): attempts allowed per client address and per ID number, in the notation
    # of the `limits` library ("30 per 10 minutes"), kept in `public_query_limit_storage` ("memory://" for one
    # process; "redis://host:6379" or "memcached://…" when several processes serve the site).
    # Connections of the public lookup's read pool (app.db.ReadPool).
    db_read_pool_size: int = 20
    public_query_limit_per_client: str = "30 per 10 minutes"
    public_query_limit_per_id: str = "10 per hour"
    public_query_limit_storage: str = "memory://"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    if settings.is_production and settings.secret_key.startswith("dev-only"):
        raise RuntimeError("ANZHI_ENV=production needs SECRET_KEY to be set")
    return settings
