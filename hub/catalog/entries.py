"""The catalog of MCP servers: entries in the official MCP Registry ``server.json`` format (shipped in
``hub/catalog/data/``, and from a registry API when ``GOOSUKE_REGISTRY_URL`` is set), their conversion
into Goose extensions, and a deterministic ranking of entries against a task description."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources as package_files
from typing import Any
from urllib.parse import quote

import httpx2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import InvalidArguments, NotFound
from hub.extensions.schema import name_to_key

SERVER_NAME = r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$"
PUBLISHER_META = "io.modelcontextprotocol.registry/publisher-provided"
REGISTRY_TIMEOUT = 10.0  # seconds for one registry request; offline, the shipped catalog serves
RUNNERS = {"npm": "npx", "pypi": "uvx", "oci": "docker", "nuget": "dnx"}
_VAR = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {var}, not ${VAR}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Input(_Open):
    description: str | None = None
    isRequired: bool = False
    isSecret: bool = False
    default: str | None = None
    value: str | None = None
    format: str | None = None
    choices: list[str] | None = None
    variables: dict[str, Input] = Field(default_factory=dict)


class EnvVar(Input):
    name: str


class Argument(Input):
    type: str = "positional"
    name: str | None = None
    valueHint: str | None = None


class Header(Input):
    name: str


class Transport(_Open):
    type: str
    url: str | None = None
    headers: list[Header] = Field(default_factory=list)


class Package(_Open):
    registryType: str
    identifier: str
    version: str | None = None
    runtimeHint: str | None = None
    transport: Transport
    runtimeArguments: list[Argument] = Field(default_factory=list)
    packageArguments: list[Argument] = Field(default_factory=list)
    environmentVariables: list[EnvVar] = Field(default_factory=list)


class ServerJson(_Open):
    name: str = Field(pattern=SERVER_NAME)
    description: str = Field(max_length=100)
    version: str
    title: str | None = None
    packages: list[Package] = Field(default_factory=list)
    remotes: list[Transport] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, alias="_meta")

    @property
    def goosuke(self) -> dict[str, Any]:
        return dict(self.meta.get(PUBLISHER_META, {}).get("goosuke", {}))

    @property
    def short_name(self) -> str:
        short = self.goosuke.get("short_name")
        if short:
            return str(short)
        tail = self.name.split("/", 1)[1]
        for prefix in ("mcp-server-", "server-", "mcp-"):
            tail = tail.removeprefix(prefix)
        for suffix in ("-mcp-server", "-mcp", "-server"):
            tail = tail.removesuffix(suffix)
        return name_to_key(tail) or name_to_key(self.name)

    @property
    def keywords(self) -> list[str]:
        return [str(k).lower() for k in self.goosuke.get("keywords", [])]

    def stdio_packages(self) -> list[Package]:
        return [p for p in self.packages if p.transport.type == "stdio"]

    def remote(self) -> Transport | None:
        return next((r for r in self.remotes if r.type == "streamable-http"), None)


def parse_server(data: Any, source: str) -> ServerJson:
    try:
        return ServerJson.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidArguments(f"{source} is not a valid server.json: {fields}.") from None


@cache
def shipped() -> tuple[ServerJson, ...]:
    """The catalog shipped with the hub (hub/catalog/data/*.json), sorted by name."""
    folder = package_files.files("hub.catalog") / "data"
    entries = [
        parse_server(json.loads(item.read_text()), f"catalog_data/{item.name}")
        for item in folder.iterdir()
        if item.name.endswith(".json")
    ]
    return tuple(sorted(entries, key=lambda e: e.name))


def _client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(timeout=REGISTRY_TIMEOUT, trust_env=False, follow_redirects=True)


async def registry_search(url: str, query: str, limit: int) -> list[ServerJson]:
    """Search a registry API (``GET /v0.1/servers?search=``); raises httpx2 errors when it is unreachable."""
    async with _client() as http:
        response = await http.get(
            f"{url.rstrip('/')}/v0.1/servers", params={"search": query, "limit": limit, "version": "latest"}
        )
        response.raise_for_status()
        items = response.json().get("servers", [])
    out = []
    for item in items:
        try:
            out.append(parse_server(item.get("server", item), "a registry answer"))
        except InvalidArguments:
            continue  # one bad entry must not hide the others
    return out


async def registry_get(url: str, name: str) -> ServerJson | None:
    async with _client() as http:
        response = await http.get(f"{url.rstrip('/')}/v0.1/servers/{quote(name, safe='')}/versions/latest")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data = response.json()
    return parse_server(data.get("server", data), f"the registry's {name}")


def find_shipped(name: str) -> ServerJson | None:
    for entry in shipped():
        if name in (entry.name, entry.short_name):
            return entry
    return None


# -- turning an entry into a Goose extension --------------------------------------------------------


@dataclass
class Prefill:
    """A Goose extension entry built from a catalog entry, with what is still missing."""

    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    missing: list[dict[str, str]] = field(default_factory=list)


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", text.upper()).strip("_") or "SECRET"


def _fill(template: str, variables: dict[str, Input], values: dict[str, str], prefill: Prefill, what: str) -> str:
    def replace(match: re.Match[str]) -> str:
        var = match.group(1)
        spec = variables.get(var, Input())
        if var in values:
            return values[var]
        if spec.default is not None:
            return spec.default
        prefill.missing.append({"name": var, "kind": "value", "description": spec.description or what})
        return match.group(0)

    return _VAR.sub(replace, template)


def _arguments(args: list[Argument], values: dict[str, str], prefill: Prefill) -> list[str]:
    argv: list[str] = []
    for arg in args:
        key = arg.valueHint or (arg.name or "").lstrip("-") or "value"
        if arg.value is not None:
            value: str | None = _fill(arg.value, arg.variables, values, prefill, arg.description or key)
        else:
            value = values.get(key, arg.default)
        if value is None:
            if arg.isRequired:
                prefill.missing.append({"name": key, "kind": "value", "description": arg.description or key})
                value = f"{{{key}}}"
            else:
                continue
        argv += [arg.name, value] if arg.type == "named" and arg.name else [value]
    return argv


def to_extension(
    entry: ServerJson,
    values: dict[str, str],
    *,
    name: str | None = None,
    use: str | None = None,
    have_secrets: frozenset[str] = frozenset(),
) -> Prefill:
    """Build the Goose entry (argv spawned directly, never through a shell). Secret values found in
    ``values`` go to ``Prefill.secrets`` (for the vault); the entry only names them in ``env_keys``."""
    packages = entry.stdio_packages()
    remote = entry.remote()
    if use is None:
        use = "package" if packages else "remote"
    base = {"name": name or entry.short_name, "description": entry.description}
    prefill = Prefill(config={})
    if use == "remote":
        if remote is None or not remote.url:
            raise InvalidArguments(f"{entry.name} has no streamable-http remote; install its package instead.")
        env_keys: list[str] = []
        headers: dict[str, str] = {}
        for header in remote.headers:
            value = header.value or f"{{{_env_name(header.name)}}}"
            for var in _VAR.findall(value):
                spec = header.variables.get(var, header)
                if spec.isSecret or header.isSecret:
                    secret = _env_name(var)
                    env_keys.append(secret)
                    value = value.replace(f"{{{var}}}", f"${{{secret}}}")
                    _secret(secret, spec.description or header.description, values, prefill, have_secrets)
            headers[header.name] = _fill(value, header.variables, values, prefill, header.description or header.name)
        uri = _fill(remote.url, {}, values, prefill, "the server URL")
        prefill.config = {
            "type": "streamable_http", **base, "uri": uri, "headers": headers, "env_keys": env_keys, "timeout": 300
        }  # fmt: skip
        return prefill
    if not packages:
        raise InvalidArguments(f"{entry.name} has no stdio package; install its remote with use='remote'.")
    package = packages[0]
    runner = package.runtimeHint or RUNNERS.get(package.registryType)
    if runner is None:
        raise InvalidArguments(f"{entry.name}: no known way to run a {package.registryType} package.")
    ident, version = package.identifier, package.version
    envs: dict[str, str] = {}
    env_keys = []
    for var in package.environmentVariables:
        if var.isSecret:
            env_keys.append(var.name)
            _secret(var.name, var.description, values, prefill, have_secrets, required=var.isRequired)
        elif var.name in values or var.value is not None or var.default is not None:
            envs[var.name] = values.get(var.name) or var.value or var.default or ""
        elif var.isRequired:
            prefill.missing.append({"name": var.name, "kind": "value", "description": var.description or var.name})
    runtime = _arguments(package.runtimeArguments, values, prefill)
    tail = _arguments(package.packageArguments, values, prefill)
    if package.registryType == "npm":
        args = ["-y", *runtime, f"{ident}@{version}" if version else ident, *tail]
    elif package.registryType == "pypi":
        args = [*runtime, f"{ident}=={version}" if version else ident, *tail]
    elif package.registryType == "oci":
        image = ident if (":" in ident.rsplit("/", 1)[-1] or not version) else f"{ident}:{version}"
        passed = [x for name in [*envs, *env_keys] for x in ("-e", name)]
        args = ["run", "-i", "--rm", *passed, *runtime, image, *tail]
    else:
        args = [*runtime, ident, *tail]
    prefill.config = {
        "type": "stdio", **base, "cmd": runner, "args": args, "envs": envs, "env_keys": env_keys, "timeout": 300
    }  # fmt: skip
    return prefill


def _secret(
    name: str,
    description: str | None,
    values: dict[str, str],
    prefill: Prefill,
    have: frozenset[str],
    *,
    required: bool = True,
) -> None:
    if name in values:
        prefill.secrets[name] = values[name]
    elif name not in have and required:
        prefill.missing.append({"name": name, "kind": "secret", "description": description or name})


def require(entry: ServerJson | None, name: str) -> ServerJson:
    if entry is None:
        raise NotFound(f"No catalog entry {name!r}. Search the catalog with catalog_search.")
    return entry


def shipped_entry(short_name: str) -> ServerJson:
    """A shipped entry by short name (for tests and defaults)."""
    return require(find_shipped(short_name), short_name)


async def search(registry_url: str | None, query: str, limit: int) -> tuple[list[tuple[ServerJson, str]], list[str]]:
    """The shipped entries, plus the registry's matches for ``query`` when ``registry_url`` is set, each
    with its source (``catalog`` or ``registry``); warnings say when the registry could not be searched."""
    shipped_entries = [(e, "catalog") for e in shipped()]
    warnings: list[str] = []
    if not registry_url:
        return shipped_entries, warnings
    try:
        remote = await registry_search(registry_url, query, limit)
    except (httpx2.HTTPError, ValueError) as exc:
        warnings.append(
            f"The registry at {registry_url} could not be searched ({type(exc).__name__}); showing the catalog."
        )
        return shipped_entries, warnings
    names = {e.name for e, _ in shipped_entries}
    return shipped_entries + [(e, "registry") for e in remote if e.name not in names], warnings


async def resolve(registry_url: str | None, name: str) -> ServerJson:
    """The entry ``name``, from the shipped catalog or else the registry.

    Raises:
        NotFound: neither has it, or the registry cannot be reached.
    """
    entry = find_shipped(name)
    if entry is None and registry_url:
        try:
            entry = await registry_get(registry_url, name)
        except (httpx2.HTTPError, ValueError) as exc:
            raise NotFound(
                f"{name!r} is not in the shipped catalog and the registry at {registry_url} could not be reached "
                f"({type(exc).__name__}). Try again later or add the extension with extension_add."
            ) from None
    return require(entry, name)
