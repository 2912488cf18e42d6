"""Settings: the only place that reads the environment.

The CLI builds one ``Settings`` (environment variables prefixed ``GOOSUKE_``, an optional
``.env`` file, then command-line flags) and passes it down; nothing below reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the hub. Each field is also the environment variable ``GOOSUKE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GOOSUKE_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("goosuke")),
        description="Folder for the SQLite database, the signing key and the first admin token.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite in the data dir. "
        "PostgreSQL: postgresql+asyncpg://user@host/db (postgresql:// is accepted too).",
    )
    host: str = Field(default="127.0.0.1", description="Address `goosuke serve` binds to.")
    port: int = Field(default=8765, ge=0, le=65535, description="Port `goosuke serve` binds to.")
    public_url: str | None = Field(
        default=None,
        description="The URL clients reach the hub at (behind a proxy); default http://HOST:PORT.",
    )
    auth: Literal["token", "none"] = Field(
        default="token",
        description="`token` requires a bearer token on every route but health and "
        "metrics; `none` is allowed only on a loopback address.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 signing key; default: generated into DATA_DIR/jwt.key (0600)."
    )
    jwt_audience: str = Field(default="goosuke", description="`aud` claim required in access tokens.")
    jwt_issuer: str = Field(default="goosuke", description="`iss` claim of access tokens.")
    access_token_ttl: int = Field(default=3600, gt=0, description="Lifetime of access tokens, seconds.")
    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra modules to load, comma separated: pkg.module,other.module."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Host header values accepted (DNS-rebinding protection), e.g. hub.example.com, "
        "hub.example.com:*. `*` turns the check off.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Origin values accepted, e.g. https://hub.example.com."
    )
    sse_ping_interval: float = Field(default=15.0, gt=0, description="Seconds between keep-alive pings on SSE streams.")
    sse_retry_interval_ms: int = Field(
        default=1000, gt=0, description="Retry interval sent to Streamable HTTP clients (resumable streams)."
    )
    event_store_size: int = Field(
        default=1000, gt=0, description="Events kept per Streamable HTTP stream for Last-Event-ID resumption."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="Largest accepted request body; larger gets 413."
    )
    session_idle_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds an idle Streamable HTTP session is kept."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    migrate_on_start: bool = Field(default=True, description="Apply migrations when serve/stdio start.")

    @field_validator("jwt_secret")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 needs a 256-bit key); or leave it unset")
        return value

    @field_validator("plugins", "allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    # -- derived values -------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url.split("://", 1)[1]
            return url
        return f"sqlite+aiosqlite:///{self.data_dir / 'goosuke.db'}"

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.resolved_database_url.startswith("postgresql") else "sqlite"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def is_loopback(self) -> bool:
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check_serving(self) -> None:
        """Refuse configurations that would expose the hub unsafely.

        Raises:
            ConfigError: ``auth=none`` on a non-loopback address.
        """
        if self.auth == "none" and not self.is_loopback():
            raise ConfigError(
                f"GOOSUKE_AUTH=none is only allowed on a loopback address, not {self.host!r}. "
                "Bind to 127.0.0.1 or keep GOOSUKE_AUTH=token."
            )
