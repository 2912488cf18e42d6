"""Extensions in Goose's own schema (the store that keeps them is :mod:`hub.extensions.store`).

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
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from hub.errors import InvalidArguments, describe_validation_errors, summarize_validation_errors

DEFAULT_EXTENSION_TIMEOUT = 300  # Goose's DEFAULT_EXTENSION_TIMEOUT, seconds
HUB_EXTENSION = "goosuke"  # the hub's own name (and key) as a Goose extension
# The extensions built into the Goose binary (type: builtin), by name.
GOOSE_BUILTINS = frozenset({"developer", "computercontroller", "memory", "tutorial", "autovisualiser", "chatrecall"})
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
        details = describe_validation_errors(exc.errors(), ExtensionConfig)  # "stdio.cmd" reads "cmd"
        message = f"The {label} is not a valid Goose {kind} extension: {summarize_validation_errors(details)}"
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
    data: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    for key in SKIP_WHEN_EMPTY:
        if data.get(key) == []:
            data.pop(key)
    return data


def config_hash(config: Any, enabled: bool) -> str:
    canonical = json.dumps({"enabled": enabled, **goose_fields(config)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def hub_extension(url: str, *, token_env: str = "GOOSUKE_TOKEN") -> dict[str, Any]:
    """The hub itself as a Goose ``streamable_http`` extension at ``url`` (its ``/mcp``); the bearer token
    comes from the environment variable ``token_env``, never written into the entry."""
    return {
        "type": "streamable_http",
        "name": HUB_EXTENSION,
        "uri": url,
        "headers": {"Authorization": f"Bearer ${{{token_env}}}"},
        "env_keys": [token_env],
        "timeout": DEFAULT_EXTENSION_TIMEOUT,
    }
