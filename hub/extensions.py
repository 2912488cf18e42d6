"""Extensions in Goose's own schema, and the store that keeps them (``app.services["extensions"]``).

An extension is an MCP server that agents use. Its configuration is exactly what Goose writes under
``extensions:`` in its ``config.yaml`` (field names, types, defaults), keyed by Goose's
``name_to_key``. The hub adds two things of its own, kept beside the configuration and never written to
Goose's file: the role needed to call the extension's tools through the hub, and what its last start
discovered (tools, resources, prompts).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import select

from hub.accounts import audit
from hub.db import Database
from hub.db.models import Extension
from hub.errors import Conflict, InvalidArguments, NotFound, describe_validation_errors
from hub.principal import Role
from hub.vault import Vault, install_log_scrubber

if TYPE_CHECKING:
    from hub.context import AppContext

DEFAULT_EXTENSION_TIMEOUT = 300  # Goose's DEFAULT_EXTENSION_TIMEOUT, seconds
MAX_TIMEOUT = 24 * 3600
EXTENSION_TYPES = ("stdio", "streamable_http", "builtin", "platform", "frontend", "inline_python", "sse")
FEDERATED_TYPES = ("stdio", "streamable_http", "sse")
# Goose drops these from `envs` (Envs::DISALLOWED_KEYS); the hub refuses them outright.
_DISALLOWED = """PATH PATHEXT SystemRoot windir LD_LIBRARY_PATH LD_PRELOAD LD_AUDIT LD_DEBUG LD_BIND_NOW
LD_ASSUME_KERNEL DYLD_LIBRARY_PATH DYLD_INSERT_LIBRARIES DYLD_FRAMEWORK_PATH PYTHONPATH PYTHONHOME NODE_OPTIONS
RUBYOPT GEM_PATH GEM_HOME CLASSPATH GO111MODULE GOROOT APPINIT_DLLS SESSIONNAME ComSpec TEMP TMP LOCALAPPDATA
USERPROFILE HOMEDRIVE HOMEPATH"""
DISALLOWED_ENVS = frozenset(k.upper() for k in _DISALLOWED.split())
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_LOOKING = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL)", re.IGNORECASE)
_RE_BRACES = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_RE_SIMPLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# Rust's char::is_whitespace (Unicode White_Space), which Goose's name_to_key drops.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def name_to_key(name: str) -> str:
    """Goose's ``name_to_key``: ASCII letters, digits, ``_`` and ``-`` kept, whitespace dropped, anything
    else becomes ``_``, then lowercased."""
    out: list[str] = []
    for c in name:
        if (c.isascii() and c.isalnum()) or c in "_-":
            out.append(c)
        elif c in _WHITESPACE:
            continue
        else:
            out.append("_")
    return "".join(out).lower()


def substitute_env_vars(value: str, env: dict[str, str]) -> str:
    """Goose's ``substitute_env_vars``: ``${VAR}`` then ``$VAR`` (scanned on the original text) from ``env``."""
    result = value
    for match in _RE_BRACES.finditer(value):
        if match.group(1) in env:
            result = result.replace(match.group(0), env[match.group(1)])
    for match in _RE_SIMPLE.finditer(value):
        var = match.group(1)
        if "${" + var + "}" not in value and var in env:
            result = result.replace(match.group(0), env[var])
    return result


def referenced_vars(value: str) -> set[str]:
    return {m.group(1) for m in _RE_BRACES.finditer(value)} | {m.group(1) for m in _RE_SIMPLE.finditer(value)}


# -- the schema ------------------------------------------------------------------------------------


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="Display name; the key is name_to_key(name).")
    description: str = Field(default="", max_length=4000)
    bundled: bool | None = None
    available_tools: list[str] = Field(default_factory=list, description="Tools offered; empty means all.")

    @field_validator("description", mode="before")
    @classmethod
    def _null_description(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("available_tools", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        return [] if value is None else value


Timeout = Annotated[int, Field(ge=1, le=MAX_TIMEOUT, description="Seconds per request (Goose's default: 300).")]


class _Env(BaseModel):
    envs: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (not secrets).")
    env_keys: list[str] = Field(default_factory=list, description="Names of secrets (vault) passed as variables.")

    @field_validator("envs", mode="before")
    @classmethod
    def _null_envs(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("env_keys", mode="before")
    @classmethod
    def _null_keys(cls, value: object) -> object:
        return [] if value is None else value


class StdioExtension(_Env, _Common):
    type: Literal["stdio"] = "stdio"
    cmd: str = Field(min_length=1, description="The program to run (argv[0]); never run through a shell.")
    args: list[str] = Field(default_factory=list)
    timeout: Timeout | None = DEFAULT_EXTENSION_TIMEOUT
    cwd: str | None = None


class StreamableHttpExtension(_Env, _Common):
    type: Literal["streamable_http"] = "streamable_http"
    uri: str = Field(min_length=1, description="http(s) URL of the MCP endpoint; ${VAR} is substituted.")
    headers: dict[str, str] = Field(default_factory=dict, description="Values may use ${VAR} from env_keys.")
    timeout: Timeout | None = DEFAULT_EXTENSION_TIMEOUT
    socket: str | None = None
    client_id: str | None = None
    client_secret_key: str | None = None
    scopes: list[str] = Field(default_factory=list)


class BuiltinExtension(_Common):
    type: Literal["builtin"] = "builtin"
    display_name: str | None = None
    timeout: Timeout | None = None


class PlatformExtension(_Common):
    type: Literal["platform"] = "platform"
    display_name: str | None = None


class FrontendExtension(_Common):
    type: Literal["frontend"] = "frontend"
    tools: list[dict[str, Any]] = Field(default_factory=list)
    instructions: str | None = None


class InlinePythonExtension(_Common):
    type: Literal["inline_python"] = "inline_python"
    code: str = Field(min_length=1)
    timeout: Timeout | None = None
    dependencies: list[str] | None = None


class SseExtension(_Env, _Common):
    """Legacy SSE: kept for file compatibility; current Goose never connects to it."""

    type: Literal["sse"] = "sse"
    uri: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout | None = None


ExtensionConfig = Annotated[
    StdioExtension
    | StreamableHttpExtension
    | BuiltinExtension
    | PlatformExtension
    | FrontendExtension
    | InlinePythonExtension
    | SseExtension,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ExtensionConfig)
MODELS: dict[str, type[BaseModel]] = {
    "stdio": StdioExtension,
    "streamable_http": StreamableHttpExtension,
    "builtin": BuiltinExtension,
    "platform": PlatformExtension,
    "frontend": FrontendExtension,
    "inline_python": InlinePythonExtension,
    "sse": SseExtension,
}
SKIP_WHEN_EMPTY = ("available_tools", "scopes")


def parse_config(data: Any, *, label: str = "extension", lenient: bool = False) -> Any:
    """Validate a Goose extension entry (without ``enabled``).

    ``lenient`` drops keys the schema does not know (Goose ignores them too) instead of refusing them,
    and accepts Goose's ``env`` alias of ``envs``.

    Raises:
        InvalidArguments: the entry does not fit Goose's schema; the message names each bad field.
    """
    if not isinstance(data, dict):
        raise InvalidArguments(f"The {label} must be a mapping of Goose extension fields, not {type(data).__name__}.")
    data = dict(data)
    kind = data.get("type")
    if kind not in MODELS:
        raise InvalidArguments(
            f"The {label} has type {kind!r}; use one of: {', '.join(EXTENSION_TYPES)}.",
            errors=[{"field": "type", "message": f"one of {', '.join(EXTENSION_TYPES)}", "type": "enum"}],
        )
    if "env" in data and "envs" not in data:
        data["envs"] = data.pop("env")
    if lenient:
        known = set(MODELS[kind].model_fields)
        data = {k: v for k, v in data.items() if k in known}
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        details = describe_validation_errors(exc.errors())
        for detail in details:  # drop the union tag from the location: "stdio.cmd" -> "cmd"
            if detail["field"].startswith(f"{kind}."):
                detail["field"] = detail["field"][len(kind) + 1 :]
        fields = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        message = f"The {label} is not a valid Goose {kind} extension: {fields}."
        raise InvalidArguments(message, errors=details) from None


def config_warnings(config: Any) -> list[str]:
    """Problems that do not stop Goose or the hub but that a person should see.

    Raises:
        InvalidArguments: a hard error (a variable Goose would drop, a bad URL or variable name).
    """
    warnings: list[str] = []
    if not name_to_key(config.name):
        raise InvalidArguments(f"Extension name {config.name!r} gives an empty key; use letters or digits in it.")
    envs: dict[str, str] = getattr(config, "envs", {})
    env_keys: list[str] = getattr(config, "env_keys", [])
    for name in [*envs, *env_keys]:
        if not ENV_NAME.match(name):
            raise InvalidArguments(f"{name!r} is not an environment variable name (letters, digits, _).")
        if name.upper() in DISALLOWED_ENVS:
            raise InvalidArguments(
                f"Extensions may not set {name} (Goose drops it as a hijacking risk, and so does the hub); remove it."
            )
    for name in envs:
        if SECRET_LOOKING.search(name):
            warnings.append(
                f"envs.{name} looks like a secret: plain envs are stored and written to config.yaml as they are. "
                f"Store it with secret_set and list {name} in env_keys instead."
            )
    if config.type == "sse":
        warnings.append("SSE is unsupported by current Goose (it never connects): migrate to streamable_http.")
    if config.type in ("streamable_http", "sse"):
        parts = urlsplit(substitute_env_vars(config.uri, {v: "x" for v in referenced_vars(config.uri)}))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArguments(f"uri {config.uri!r} must be an http:// or https:// URL.")
        available = set(envs) | set(env_keys)
        for text in [config.uri, *config.headers.values()]:
            for var in referenced_vars(text) - available:
                warnings.append(f"${{{var}}} is used but is neither in envs nor in env_keys: it stays unresolved.")
    if config.type not in FEDERATED_TYPES:
        warnings.append(f"A {config.type} extension runs inside Goose: the hub keeps it but cannot serve its tools.")
    return warnings


def goose_fields(config: Any) -> dict[str, Any]:
    """The entry as Goose writes it (without ``enabled``): None and empty optional lists left out."""
    data = config.model_dump(mode="json", exclude_none=True)
    for key in SKIP_WHEN_EMPTY:
        if data.get(key) == []:
            data.pop(key)
    return data


def config_hash(config: Any, enabled: bool) -> str:
    canonical = json.dumps({"enabled": enabled, **goose_fields(config)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- records and the store ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionRecord:
    key: str
    name: str
    type: str
    enabled: bool
    config: Any
    role: Role
    source: str
    discovered: dict[str, Any] | None
    discovered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, row: Extension) -> ExtensionRecord:
        return cls(
            key=row.key,
            name=row.name,
            type=row.type,
            enabled=row.enabled,
            config=parse_config(row.config, label=f"stored extension {row.key!r}", lenient=True),
            role=Role(row.role),
            source=row.source,
            discovered=row.discovered,
            discovered_at=row.discovered_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    @property
    def timeout(self) -> float:
        return float(getattr(self.config, "timeout", None) or DEFAULT_EXTENSION_TIMEOUT)

    @property
    def federated(self) -> bool:
        return self.type in FEDERATED_TYPES

    @property
    def hash(self) -> str:
        return config_hash(self.config, self.enabled)

    def goose_entry(self) -> dict[str, Any]:
        return {"enabled": self.enabled, **goose_fields(self.config)}


ChangeListener = Callable[[str, "ExtensionRecord | None"], Awaitable[None]]


class ExtensionStore:
    """The team's extensions (``app.services["extensions"]``).

    For other domains (agents): ``await store.launch_spec(name)`` gives the configuration and the
    environment an extension starts with (``envs`` plus its ``env_keys`` resolved from the vault).
    """

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault
        self._listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(key, record_or_None)`` after every add, update, enable/disable or removal."""
        self._listeners.append(listener)

    async def _changed(self, key: str, record: ExtensionRecord | None) -> None:
        for listener in self._listeners:
            await listener(key, record)

    async def _check_no_plain_secrets(self, config: Any) -> None:
        values = set(await self.vault.known_values())
        plain: dict[str, str] = {**getattr(config, "envs", {}), **getattr(config, "headers", {})}
        for field_name, value in plain.items():
            if value in values or any(v in value for v in values):
                raise InvalidArguments(
                    f"{field_name} holds the value of a vault secret in plain text. Put the secret's name in "
                    f"env_keys and refer to it as ${{NAME}} instead."
                )

    # -- reading ----------------------------------------------------------------------------

    async def list(self, *, enabled_only: bool = False) -> list[ExtensionRecord]:
        async with self.db.session() as session:
            query = select(Extension).order_by(Extension.key)
            if enabled_only:
                query = query.where(Extension.enabled.is_(True))
            return [ExtensionRecord.of(row) for row in await session.scalars(query)]

    async def find(self, name: str) -> ExtensionRecord | None:
        """Goose's lookup: an exact name first, then the key of ``name``."""
        async with self.db.session() as session:
            row = await session.scalar(select(Extension).where(Extension.name == name))
            if row is None:
                row = await session.get(Extension, name_to_key(name))
            return ExtensionRecord.of(row) if row is not None else None

    async def get(self, name: str) -> ExtensionRecord:
        record = await self.find(name)
        if record is None:
            raise NotFound(f"No extension named {name!r}. List them with extension_list.")
        return record

    async def launch_spec(self, name: str) -> tuple[Any, dict[str, str]]:
        """The configuration and the environment of its process: ``envs`` over the vault's ``env_keys``
        (inline values shadow secrets, as in Goose).

        Raises:
            NotFound: no such extension, or some of its secrets are not in the vault.
            ConfigError: the vault key cannot open the secrets.
        """
        record = await self.get(name)
        config = record.config
        envs: dict[str, str] = dict(getattr(config, "envs", {}))
        wanted = [k for k in getattr(config, "env_keys", []) if k not in envs]
        secret_key = getattr(config, "client_secret_key", None)
        if secret_key and secret_key not in envs:
            wanted.append(secret_key)
        env = {**(await self.vault.resolve(wanted)), **envs}
        return config, env

    # -- writing ----------------------------------------------------------------------------

    async def add(
        self,
        config: Any,
        *,
        actor: str,
        enabled: bool = True,
        role: Role = Role.operator,
        source: str = "hub",
        replace: bool = False,
    ) -> tuple[ExtensionRecord, list[str]]:
        """Store a new extension. Raises Conflict when its key is taken (unless ``replace``)."""
        warnings = config_warnings(config)
        await self._check_no_plain_secrets(config)
        key = name_to_key(config.name)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.get(Extension, key)
            if row is not None and not replace:
                raise Conflict(
                    f"An extension with key {key!r} exists already ({row.name!r}). Change it with "
                    "extension_update or pick another name."
                )
            if row is None:
                row = Extension(key=key, created_at=now)
                session.add(row)
            row.name, row.type, row.enabled = config.name, config.type, enabled
            row.config, row.role, row.source = goose_fields(config), role.value, source
            row.discovered, row.discovered_at = None, None
            row.updated_at, row.updated_by = now, actor
            await session.flush()
            await audit(session, actor, "extension.add", key, type=config.type, source=source)
            record = ExtensionRecord.of(row)
        await self._changed(key, record)
        return record, warnings

    async def update(
        self,
        name: str,
        *,
        actor: str,
        changes: dict[str, Any] | None = None,
        enabled: bool | None = None,
        role: Role | None = None,
    ) -> tuple[ExtensionRecord, list[str]]:
        """Change fields of an extension (``changes`` are Goose fields; ``None`` removes a field).

        A new ``name`` that gives another key is refused: remove and add it instead.
        """
        current = await self.get(name)
        warnings: list[str] = []
        config = current.config
        if changes:
            if "type" in changes and changes["type"] != current.type:
                raise InvalidArguments("An extension's type cannot change; remove it and add it again.")
            merged = {**goose_fields(current.config), **changes}
            merged = {k: v for k, v in merged.items() if v is not None}
            config = parse_config(merged, label=f"extension {current.key!r}")
            if name_to_key(config.name) != current.key:
                raise InvalidArguments(
                    f"The new name {config.name!r} gives key {name_to_key(config.name)!r}, not {current.key!r}: "
                    "remove the extension and add it under the new name."
                )
            warnings = config_warnings(config)
            await self._check_no_plain_secrets(config)
        async with self.db.session() as session:
            row = await session.get(Extension, current.key)
            if row is None:
                raise NotFound(f"Extension {current.key!r} was removed meanwhile.")
            if changes:
                if goose_fields(config) != row.config:
                    row.discovered, row.discovered_at = None, None
                row.name, row.config = config.name, goose_fields(config)
            if enabled is not None:
                row.enabled = enabled
            if role is not None:
                row.role = role.value
            row.updated_at, row.updated_by = datetime.now(UTC), actor
            action = "extension.update"
            if enabled is not None and not changes and role is None:
                action = "extension.enable" if enabled else "extension.disable"
            await audit(session, actor, action, current.key, fields=sorted(changes or {}), role=role, enabled=enabled)
            record = ExtensionRecord.of(row)
        await self._changed(record.key, record)
        return record, warnings

    async def remove(self, name: str, *, actor: str) -> ExtensionRecord:
        record = await self.get(name)
        async with self.db.session() as session:
            row = await session.get(Extension, record.key)
            if row is not None:
                await session.delete(row)
            await audit(session, actor, "extension.remove", record.key)
        await self._changed(record.key, None)
        return record

    async def save_discovery(self, key: str, discovered: dict[str, Any]) -> None:
        async with self.db.session() as session:
            row = await session.get(Extension, key)
            if row is not None:
                row.discovered, row.discovered_at = discovered, datetime.now(UTC)


async def open_extension_services(app: AppContext) -> None:
    """Start the vault and put it and the extension store in ``app.services`` ("vault", "extensions")."""
    vault = Vault(app.db, app.settings)
    await vault.start()
    install_log_scrubber(vault)
    app.services["vault"] = vault
    app.services["extensions"] = ExtensionStore(app.db, vault)
    app.services.setdefault("ready_checks", {})["vault"] = vault.status
