"""Settings: the only place that reads the environment.

The CLI builds one ``Settings`` (environment variables prefixed ``GOOSUKE_``, then command-line
flags) and passes it down; nothing below reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from hub.errors import ConfigError
from hub.settings_console import ConsoleSettings
from hub.settings_oidc import OidcSettings, OidcTeamRole, split_csv
from hub.settings_render import RenderSettings

__all__ = ["OidcTeamRole", "Settings"]

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"  # the vault's names (hub.vault.service.SECRET_NAME)


def secret_name_like(name: str) -> str:
    """A name the vault accepts that is close to ``name`` (``discord.bot_token`` -> ``DISCORD_BOT_TOKEN``)."""
    fixed = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_").upper() or "SECRET"
    return (f"SECRET_{fixed}" if fixed[0].isdigit() else fixed)[:128]


# Variables an extension's child process inherits from the hub (the rest of the hub's environment
# never reaches it); GOOSUKE_EXTENSION_ENV_PASSTHROUGH replaces this list.
CHILD_ENV_PASSTHROUGH = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "SHELL", "TERM", "TZ"]


class Settings(OidcSettings, RenderSettings, ConsoleSettings):
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
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per username before POST /api/auth/token backs off (429)."
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins per client address before that address backs off (429)."
    )
    login_failure_window: float = Field(
        default=900.0, gt=0, description="Seconds a failed login is remembered for the two counts above."
    )
    login_backoff: float = Field(
        default=2.0, gt=0, description="First back-off after too many failed logins, seconds; doubles each failure."
    )
    login_max_backoff: float = Field(default=900.0, gt=0, description="Longest login back-off, seconds.")
    login_concurrency: int = Field(
        default=2, ge=1, le=64, description="Password checks (scrypt) run at once, in worker threads."
    )
    auth_revision_poll: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds between checks for credential changes made by other processes (token revoke, "
        "password, role); a cached token verdict is never older than this after such a change.",
    )
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
    max_sessions_per_principal: int = Field(
        default=50,
        ge=1,
        description="Streamable HTTP and SSE sessions one principal (a user, token or the anonymous admin) may "
        "hold open; beyond it the new session is refused with 429 until one ends or idles out.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text`: one readable line per record; `json`: one JSON object per line (time, level, logger, "
        "message) for log shippers, the server's access log included.",
    )
    migrate_on_start: bool = Field(default=True, description="Apply migrations when serve/stdio start.")
    # -- extensions, vault, Goose sync, catalog --------------------------------------------------
    vault_key: SecretStr | None = Field(
        default=None,
        description="Vault keys (base64url of 32 bytes), comma separated, newest first; default: generated into "
        "DATA_DIR/vault.key (0600). Older keys only decrypt; secret_rotate_key re-encrypts with the newest.",
    )
    registry_url: str | None = Field(
        default=None,
        description="An MCP Registry API (serving /v0.1/servers) searched besides the shipped catalog.",
    )
    goose_config_path: Path = Field(
        default_factory=lambda: Path.home() / ".config" / "goose" / "config.yaml",
        description="Goose's config.yaml that goose_config_sync reads and writes.",
    )
    goose_config_watch: bool = Field(default=False, description="Re-sync when Goose's config.yaml changes.")
    goose_config_watch_interval: float = Field(default=2.0, gt=0, description="Seconds between checks of the file.")
    extension_idle_timeout: float = Field(
        default=600.0, gt=0, description="Seconds an unused federated extension keeps running before it is stopped."
    )
    extension_start_timeout: float = Field(
        default=60.0, gt=0, description="Longest wait for an extension to start and answer initialize."
    )
    extension_restart_backoff: float = Field(
        default=1.0, gt=0, description="First delay before restarting a crashed extension; doubles per crash."
    )
    extension_max_backoff: float = Field(default=60.0, gt=0, description="Longest delay between restarts.")
    extension_max_restarts: int = Field(
        default=5, ge=0, description="Consecutive failed starts after which an extension waits for the next call."
    )
    extension_env_passthrough: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CHILD_ENV_PASSTHROUGH),
        description="Names of the hub's environment variables passed on to extension processes, comma separated.",
    )
    extension_environment: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        repr=False,
        description="The environment extension processes start from; default: the passthrough names' values.",
    )

    # -- execution engine and agents ------------------------------------------------------------
    max_concurrent_executions: int = Field(default=4, ge=1, le=1000, description="Executions run at once here.")
    execution_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds a run may take when its template sets no timeout."
    )
    execution_kill_grace: float = Field(
        default=5.0, ge=0, description="Seconds between SIGTERM and SIGKILL when a run is cancelled or times out."
    )
    execution_log_limit: int = Field(
        default=1_000_000, ge=1000, description="Bytes of log kept per execution; the rest is dropped with a marker."
    )
    execution_output_limit: int = Field(
        default=200_000, ge=1000, description="Characters of output kept per execution (marked when cut)."
    )
    execution_wait_limit: float = Field(
        default=300.0, gt=0, description="Longest `wait` a template_run call may ask for, seconds."
    )
    engine_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between queue polls (other hubs' submissions, cancel requests)."
    )
    engine_heartbeat_interval: float = Field(
        default=10.0,
        ge=0.5,
        le=300,
        description=(
            "Seconds between an engine's heartbeats in the database. Hubs sharing a database (several "
            "processes on one SQLite file, or replicas) treat an engine on another host whose heartbeat is "
            "six intervals old as dead and recover its runs; use one value across them."
        ),
    )
    run_token_role: Literal["viewer", "operator", "admin"] = Field(
        default="operator", description="Role of a run's short-lived hub token (never above the caller's)."
    )
    goose_bin: str = Field(default="goose", description="The Goose CLI: a path, or a name looked up on PATH.")
    goose_provider: str | None = Field(default=None, description="Goose provider for runs, e.g. openai, ollama.")
    goose_model: str | None = Field(default=None, description="Goose model for runs, e.g. gpt-4o-mini, qwen3.")
    goose_env: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,  # may hold provider API keys: never shown by settings_get
        repr=False,
        description='Provider environment for Goose runs as JSON, e.g. {"OPENAI_HOST": "http://127.0.0.1:11434"}.',
    )
    goose_max_turns: int = Field(default=50, ge=1, le=1000, description="Default Goose turn limit per run.")
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", description="openai agent: an OpenAI-compatible API base URL."
    )
    openai_model: str = Field(default="gpt-4o-mini", description="openai agent: default model.")
    openai_api_key: SecretStr | None = Field(
        default=None, description="openai agent: API key (templates may name a vault secret instead)."
    )
    setup_api_key: SecretStr | None = Field(
        default=None,
        description="`goosuke setup` only: the provider's API key, for scripts (instead of --api-key-stdin); "
        "setup stores it in the vault.",
    )

    # -- triggers: schedules and webhooks --------------------------------------------------
    scheduler_enabled: bool = Field(
        default=True, description="Run the scheduler in this process (turn off on replicas that should not fire)."
    )
    scheduler_tick: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between scheduler passes (slots are claimed in the database)."
    )
    delivery_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per delivery (HTTP callback or Discord post) before it fails."
    )
    delivery_backoff: float = Field(
        default=2.0, gt=0, le=600, description="Seconds before a delivery's second attempt; doubled for each next one."
    )
    delivery_timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds one HTTP callback may take.")
    delivery_catch_up_window: float = Field(
        default=86_400.0,
        ge=0,
        le=30 * 86_400,
        description="Seconds back a hub looks, at start and every delivery_sweep_interval, for finished runs with "
        "routes and no delivery (their hub stopped first); 0 turns the catch-up off.",
    )
    delivery_sweep_interval: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds between sweeps for deliveries a stopped hub left: pending ones and never-written ones.",
    )
    scheduler_misfire_grace: float = Field(
        default=120.0, gt=0, description="A slot older than this when seen is 'missed' (the hub was down)."
    )
    webhook_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest webhook payload accepted; larger gets 413."
    )
    webhook_signature_tolerance: float = Field(
        default=300.0, gt=0, description="Seconds a signed webhook timestamp stays valid (replay protection)."
    )
    webhook_rate_limit: str = Field(
        default="120/minute", description="Default deliveries per hook, e.g. 10/second, 120/minute."
    )
    webhook_failure_rate_limit: str = Field(
        default="30/minute",
        description="Refused (unsigned or badly signed) deliveries per hook and client address before 429; "
        "signed deliveries are never counted here.",
    )
    webhook_replay_window: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds a github-mode signature is remembered, so a replayed delivery starts no second run "
        "(hmac-mode signatures are remembered for the timestamp tolerance).",
    )

    # -- Discord: the bot, reaction actions, summaries ------------------------------------
    discord_token: SecretStr | None = Field(
        default=None, description="Discord bot token (developer portal, Bot tab); the bot starts only with one."
    )
    discord_token_secret: str | None = Field(
        default=None, max_length=255, description="Name of a vault secret holding the bot token (instead of a value)."
    )
    discord_api_base_url: str = Field(
        default="https://discord.com/api/v10",
        description="Discord REST base URL (a proxy or a test double). Process-wide: discord.py keeps it in a "
        "class attribute, so one process serves one Discord.",
    )
    discord_gateway_url: str = Field(
        default="wss://gateway.discord.gg/", description="Discord gateway URL; process-wide like the REST URL."
    )
    discord_ready_timeout: float = Field(
        default=30.0, gt=0, description="Longest wait of a Discord tool for the bot to connect before it fails."
    )
    discord_guild_ready_timeout: float = Field(
        default=2.0, gt=0, description="Seconds discord.py waits after the last GUILD_CREATE before it is ready."
    )
    discord_reconnect_initial: float = Field(
        default=1.0, gt=0, description="First delay before reconnecting to Discord after a failure; doubles each time."
    )
    discord_reconnect_max: float = Field(default=120.0, gt=0, description="Longest delay between reconnections.")
    discord_max_ratelimit_wait: float = Field(
        default=30.0,
        ge=30,
        description="A Discord 429 asking to wait longer than this fails the call instead (discord.py's floor: 30).",
    )
    discord_allowed_guilds: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Guild ids the hub may touch, comma separated (joined with the allow-list kept by the "
        "discord_allowlist tools); both empty: every guild the bot is in.",
    )
    discord_allowed_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Channel ids the hub may touch, comma separated (see discord_allowed_guilds)."
    )
    discord_default_reactions: bool = Field(
        default=True, description="Bind ✏️ and 📝 to meeting-summary when the bot starts (if that binding is absent)."
    )
    discord_history_limit: int = Field(
        default=500, ge=1, le=20_000, description="Default history window: at most this many messages."
    )
    discord_history_hours: float = Field(
        default=24.0, gt=0, description="Default history window: messages of at most this many past hours."
    )
    discord_summary_chunk_chars: int = Field(
        default=24_000,
        ge=1000,
        description="Characters of conversation one agent run gets; longer histories are summarised in chunks "
        "and the notes combined (keep it within the agent's context budget).",
    )
    discord_run_timeout: float = Field(
        default=1800.0, gt=0, description="Longest wait for a reaction's execution before the bot reacts ⚠️."
    )

    @field_validator("jwt_secret")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 needs a 256-bit key); or leave it unset")
        return value

    @field_validator("discord_token_secret", "oidc_client_secret_name")
    @classmethod
    def _secret_name(cls, value: str | None) -> str | None:
        if value and not re.match(SECRET_NAME_PATTERN, value):
            raise ValueError(
                f"{value[:64]!r} is not a vault secret name (letters, digits and _, not starting with a digit, at "
                f"most 128 characters): store the value with secret_set (name={secret_name_like(value)!r}) and "
                "set this to that name"
            )
        return value or None

    @field_validator("webhook_rate_limit", "webhook_failure_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        import limits

        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate; write e.g. '10/second' or '120/minute'") from None
        return value

    @field_validator(
        "plugins",
        "allowed_hosts",
        "allowed_origins",
        "extension_env_passthrough",
        "discord_allowed_guilds",
        "discord_allowed_channels",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return split_csv(value)

    @model_validator(mode="after")
    def _snapshot_child_environment(self) -> Settings:
        # The one read of the process environment for child processes: a snapshot of allow-listed names.
        if not self.extension_environment:
            self.extension_environment = {k: os.environ[k] for k in self.extension_env_passthrough if k in os.environ}
        return self

    @property
    def child_environment(self) -> dict[str, str]:
        """The allow-listed part of the hub's environment that extension processes inherit."""
        return dict(self.extension_environment)

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

    @property
    def oidc_redirect_uri(self) -> str:
        """Where the identity provider sends the browser back to: register it at the provider."""
        return f"{self.oidc_redirect_base_url or self.base_url}/auth/oidc/callback"

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
        if self.auth == "none" and self.public_url and not _loopback_url(self.public_url):
            raise ConfigError(
                f"GOOSUKE_AUTH=none is only allowed on a loopback address, but GOOSUKE_PUBLIC_URL "
                f"({self.public_url!r}) says clients reach the hub elsewhere. Unset GOOSUKE_PUBLIC_URL or keep "
                "GOOSUKE_AUTH=token."
            )

    def exposure_warnings(self) -> list[str]:
        """What `goosuke serve` should say about how it is reachable (empty on loopback)."""
        if self.is_loopback():
            return []
        return [
            f"Listening on {self.host!r}, beyond this machine, over plain HTTP: tokens and secrets cross the network "
            "unencrypted. Put TLS in front (a reverse proxy) and set GOOSUKE_PUBLIC_URL to its https:// address."
        ]


def _loopback_url(url: str) -> bool:
    """Whether ``url``'s host is a loopback name or address."""
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
