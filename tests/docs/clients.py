"""`client` examples: a client's configuration entry for the hub, used the way that client uses it.

A ```json block is Claude Desktop's `claude_desktop_config.json`: each `mcpServers` entry's `command` and
`args` (and `env`) are started as an MCP stdio server and asked for `tools/list` by the real SDK client.
A ```yaml block is Goose's `config.yaml` (or one entry of its `extensions:`): each entry must fit Goose's
extension schema as the hub reads it (`hub.extensions.schema`, strict: an unknown key is an error, and
`hub.extensions.goose_file.file_entries`, Goose's reading of the file), and a stdio or streamable_http
entry for the hub is connected to (stdio: its command started; streamable_http: the document's running
`goosuke serve`, with `${VAR}` in its headers filled from `env_keys` as Goose does) and asked for
`tools/list`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from hub.errors import GoosukeError
from hub.extensions.goose_file import file_entries, load
from hub.extensions.schema import HUB_EXTENSION, config_warnings, parse_config, substitute_env_vars

CONNECT_TIMEOUT = 90.0  # a stdio hub on a fresh data folder runs every migration first
EXPECTED_TOOL = "whoami"  # every hub serves it: proof that tools/list reached the hub


async def stdio_tools(command: str, args: list[str], env: Mapping[str, str], cwd: Path) -> list[str]:
    params = StdioServerParameters(command=command, args=args, env=dict(env), cwd=cwd)
    with anyio.fail_after(CONNECT_TIMEOUT):
        async with Client(params) as client:
            return [tool.name for tool in (await client.list_tools()).tools]


async def http_tools(url: str, headers: Mapping[str, str]) -> list[str]:
    with anyio.fail_after(CONNECT_TIMEOUT):
        async with (
            httpx2.AsyncClient(headers=dict(headers), timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return [tool.name for tool in (await client.list_tools()).tools]


def _listed(where: str, what: str, tools: list[str]) -> str | None:
    if EXPECTED_TOOL not in tools:
        return f"{where}: {what} answered tools/list without `{EXPECTED_TOOL}`: {tools[:10]}"
    return None


async def claude_desktop(where: str, text: str, env: Mapping[str, str], cwd: Path) -> list[str]:
    """Start every server of a `claude_desktop_config.json` as Claude Desktop does and list its tools."""
    try:
        servers = json.loads(text)["mcpServers"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"{where}: not a claude_desktop_config.json with `mcpServers` ({exc})"]
    problems = []
    for name, server in servers.items():
        extra = server.get("env") or {}
        try:
            tools = await stdio_tools(server["command"], list(server.get("args") or []), {**env, **extra}, cwd)
        except Exception as exc:  # any failure to start or list is the example's failure
            problems.append(f"{where}: mcpServers.{name} ({server.get('command')}) did not answer tools/list: {exc!r}")
            continue
        if problem := _listed(where, f"mcpServers.{name}", tools):
            problems.append(problem)
    return problems


def goose_entries(where: str, text: str, scratch: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The entries of a Goose `config.yaml` block (a whole file, or entries of `extensions:` alone), each
    checked against Goose's extension schema as the hub reads it; the entries and the problems."""
    body = (
        text
        if text.lstrip().startswith("extensions:")
        else "extensions:\n" + "".join(f"  {line}\n" for line in text.splitlines())
    )
    path = scratch / "config.yaml"
    path.write_text(body)
    try:
        doc, _ = load(path)
    except GoosukeError as exc:
        return {}, [f"{where}: {exc.message}"]
    raw = {str(key): dict(value) for key, value in (doc.get("extensions") or {}).items() if isinstance(value, dict)}
    problems = [
        f"{where}: Goose entry {entry.key!r}: {entry.error}" for entry in file_entries(doc).values() if entry.error
    ]
    for key, entry in raw.items():
        if not isinstance(entry.get("enabled", False), bool):
            problems.append(f"{where}: Goose entry {key!r}: `enabled` must be true or false")
        fields = {k: v for k, v in entry.items() if k != "enabled"}
        try:
            config = parse_config(json.loads(json.dumps(fields)), label=f"Goose entry {key!r}")
            problems += [f"{where}: Goose entry {key!r}: {warning}" for warning in config_warnings(config)]
        except GoosukeError as exc:
            problems.append(f"{where}: {exc.message}")
    return raw, problems


async def goose(where: str, text: str, env: Mapping[str, str], cwd: Path, hub_url: str) -> list[str]:
    """Check a Goose `config.yaml` block, then connect to each enabled entry for the hub as Goose would."""
    entries, problems = goose_entries(where, text, cwd)
    if problems:
        return problems
    for key, entry in entries.items():
        if key != HUB_EXTENSION or not entry.get("enabled"):
            continue
        secrets = {name: env[name] for name in entry.get("env_keys") or [] if name in env}
        missing = sorted(set(entry.get("env_keys") or []) - set(secrets))
        if missing:
            problems.append(f"{where}: Goose entry {key!r}: env_keys {missing} are not set in the example's shell")
            continue
        try:
            if entry["type"] == "stdio":
                what = f"the stdio entry {key!r} ({entry['cmd']})"
                envs = {**env, **(entry.get("envs") or {}), **secrets}
                tools = await stdio_tools(entry["cmd"], list(entry.get("args") or []), envs, cwd)
            elif entry["type"] == "streamable_http":
                what = f"the streamable_http entry {key!r} ({entry['uri']})"
                uri = substitute_env_vars(entry["uri"], secrets)
                if not uri.startswith(hub_url):
                    problems.append(f"{where}: {what} does not point at the hub ({hub_url})")
                    continue
                headers = {
                    name: substitute_env_vars(value, secrets) for name, value in (entry.get("headers") or {}).items()
                }
                tools = await http_tools(uri, headers)
            else:
                continue
        except Exception as exc:  # any failure to connect or list is the example's failure
            problems.append(f"{where}: {what} did not answer tools/list: {exc!r}")
            continue
        if problem := _listed(where, what, tools):
            problems.append(problem)
    return problems
