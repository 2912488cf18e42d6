"""The catalog: shipped server.json entries, search, installation as Goose extensions (argv, never a shell;
secrets to the vault), a registry API double, offline fallback, and deterministic recommendations."""

from __future__ import annotations

import json
import re
from importlib import resources as package_files
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.doubles.llm import LLMDouble, Say
from harness.processes import free_port
from hub.catalog import entries as _catalog
from hub.settings import Settings
from hub.vault.service import Vault
from tests.conftest import serve
from tests.extension_support import call, call_error, local_hub

pytestmark = pytest.mark.anyio

REQUIRED = ["filesystem", "memory", "everything", "fetch", "git", "github", "slack", "notion", "google-workspace",
            "postgres", "sqlite", "brave-search", "discord", "playwright", "puppeteer"]  # fmt: skip
WEATHER = {
    "name": "io.example/weather-mcp",
    "description": "Weather forecasts for any city.",
    "version": "1.2.3",
    "packages": [{"registryType": "pypi", "identifier": "weather-mcp", "version": "1.2.3",
                  "transport": {"type": "stdio"},
                  "environmentVariables": [{"name": "WEATHER_KEY", "isSecret": True, "isRequired": True}]}],
}  # fmt: skip


def test_every_shipped_entry_is_a_valid_server_json_and_the_list_is_complete() -> None:
    folder = package_files.files("hub.catalog") / "data"
    files = sorted(item.name for item in folder.iterdir() if item.name.endswith(".json"))
    entries = _catalog.shipped()
    assert len(entries) == len(files) >= len(REQUIRED)
    assert set(REQUIRED) <= {e.short_name for e in entries}
    for entry in entries:
        assert re.match(_catalog.SERVER_NAME, entry.name) and len(entry.description) <= 100
        assert entry.packages or entry.remotes, entry.name
        for package in entry.packages:
            assert package.registryType in ("npm", "pypi", "oci", "nuget", "mcpb") and package.version
        assert entry.keywords, f"{entry.name} needs keywords for recommendations"
    raw = json.loads((folder / "filesystem.json").read_text())
    assert raw["$schema"].endswith("/server.schema.json")


def test_entries_become_goose_extensions_with_argv_and_secrets_named_not_written() -> None:
    fs = _catalog.find_shipped("filesystem")
    assert fs is not None
    prefill = _catalog.to_extension(fs, {"directory": "/srv/notes"})
    assert prefill.config["cmd"] == "npx" and prefill.missing == []
    assert prefill.config["args"] == ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/srv/notes"]
    missing = _catalog.to_extension(fs, {}).missing
    assert missing == [{"name": "directory", "kind": "value", "description": "A directory the server may access"}]
    postgres = _catalog.to_extension(_catalog.shipped_entry("postgres"), {"DATABASE_URI": "postgresql://u:p@h/db"})
    assert postgres.config["args"] == ["postgres-mcp==0.3.0", "--access-mode", "restricted"]
    assert postgres.config["env_keys"] == ["DATABASE_URI"] and postgres.secrets == {
        "DATABASE_URI": "postgresql://u:p@h/db"
    }
    assert "postgresql://u:p@h/db" not in json.dumps(postgres.config)
    remote = _catalog.to_extension(
        _catalog.shipped_entry("github"), {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_x"}, use="remote"
    )
    assert remote.config["type"] == "streamable_http" and remote.config["uri"] == "https://api.githubcopilot.com/mcp/"
    assert remote.config["headers"] == {"Authorization": "Bearer ${GITHUB_PERSONAL_ACCESS_TOKEN}"}
    oci = _catalog.parse_server({
        "name": "io.example/oci", "description": "d", "version": "2.0",
        "packages": [{"registryType": "oci", "identifier": "ghcr.io/example/server", "version": "2.0",
                      "transport": {"type": "stdio"},
                      "environmentVariables": [{"name": "TOKEN", "isSecret": True}, {"name": "MODE", "default": "x"}]}],
    }, "test")  # fmt: skip
    docker = _catalog.to_extension(oci, {"TOKEN": "t0ken"}).config
    assert docker["cmd"] == "docker"
    assert docker["args"] == ["run", "-i", "--rm", "-e", "MODE", "-e", "TOKEN", "ghcr.io/example/server:2.0"]
    assert docker["envs"] == {"MODE": "x"} and docker["env_keys"] == ["TOKEN"]


async def test_search_and_install_from_the_shipped_catalog(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        everything = await call(mcp, "catalog_search", {"limit": 100})
        assert len(everything["entries"]) == len(_catalog.shipped()) and everything["warnings"] == []
        found = await call(mcp, "catalog_search", {"query": "GitHub pull requests"})
        assert found["entries"][0]["short_name"] == "github"
        error = await call_error(mcp, "extension_install", {"catalog_name": "github", "start": False})
        assert "GITHUB_PERSONAL_ACCESS_TOKEN (secret" in error and "Pass them in `values`" in error
        token = "ghp_catalog-install-token"
        installed = await call(mcp, "extension_install", {
            "catalog_name": "io.github.modelcontextprotocol/server-github",
            "values": {"GITHUB_PERSONAL_ACCESS_TOKEN": token}, "start": False})  # fmt: skip
        assert installed["secrets_stored"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"] and token not in json.dumps(installed)
        view = installed["extension"]
        assert view["source"] == "catalog:io.github.modelcontextprotocol/server-github"
        assert view["config"]["cmd"] == "npx" and view["config"]["env_keys"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
        assert await app.services.get(Vault).get("GITHUB_PERSONAL_ACCESS_TOKEN") == token
        assert "exists already" in await call_error(
            mcp, "extension_install", {"catalog_name": "github", "values": {}, "start": False}
        )
        remote = await call(mcp, "extension_install", {"catalog_name": "github", "name": "github remote",
                                                        "use": "remote", "start": False})  # fmt: skip
        assert remote["secrets_stored"] == [] and remote["extension"]["type"] == "streamable_http"
        searched = await call(mcp, "catalog_search", {"query": "github"})
        assert searched["entries"][0]["installed"] is True
        assert "No catalog entry 'nope'" in await call_error(mcp, "extension_install", {"catalog_name": "nope"})


async def test_a_registry_api_is_searched_and_installed_from_and_offline_the_catalog_serves(
    settings: Settings,
) -> None:
    seen: list[str] = []

    async def servers(request: Request) -> JSONResponse:
        seen.append(str(request.url))
        query = request.query_params.get("search", "")
        items = [{"server": WEATHER, "_meta": {}}] if query in WEATHER["description"].lower() + " weather" else []
        return JSONResponse({"servers": items, "metadata": {"count": len(items)}})

    async def version(request: Request) -> JSONResponse:
        if request.path_params["name"] != WEATHER["name"]:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse({"server": WEATHER, "_meta": {}})

    registry = Starlette(routes=[
        Route("/v0.1/servers", servers), Route("/v0.1/servers/{name:path}/versions/latest", version)])  # fmt: skip
    port = free_port()
    async with serve(registry, port) as url:
        settings.registry_url = url
        async with local_hub(settings) as (_, mcp):
            found = await call(mcp, "catalog_search", {"query": "weather"})
            assert [e["name"] for e in found["entries"]] == ["io.example/weather-mcp"]
            assert found["entries"][0]["source"] == "registry" and "search=weather" in seen[-1]
            install = {"catalog_name": "io.example/weather-mcp", "values": {"WEATHER_KEY": "wk-1234"}, "start": False}
            installed = await call(mcp, "extension_install", install)
            assert installed["extension"]["config"]["args"] == ["weather-mcp==1.2.3"]
            assert installed["extension"]["config"]["cmd"] == "uvx"
            assert "No catalog entry" in await call_error(mcp, "extension_install", {"catalog_name": "io.x/none"})
    settings.registry_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with local_hub(settings) as (_, mcp):
        offline = await call(mcp, "catalog_search", {"query": "files"})
        assert "could not be searched" in offline["warnings"][0]
        assert offline["entries"][0]["short_name"] == "filesystem"
        error = await call_error(mcp, "extension_install", {"catalog_name": "io.example/weather-mcp"})
        assert "could not be reached" in error


async def test_recommendations_rank_offline_say_why_and_prefill_what_is_missing(settings: Settings) -> None:
    task = "Summarize yesterday's GitHub pull requests and post a digest to the team's Slack channel"
    async with local_hub(settings) as (_, mcp):
        first = await call(mcp, "extension_recommend", {"prompt": task})
        assert first == await call(mcp, "extension_recommend", {"prompt": task})  # deterministic
        top = [r["short_name"] for r in first["recommendations"]]
        assert top[:2] == ["github", "slack"] or top[:2] == ["slack", "github"]
        github: dict[str, Any] = next(r for r in first["recommendations"] if r["short_name"] == "github")
        assert "github" in github["why"] and "pull" in github["why"]
        assert github["config"]["cmd"] == "npx" and github["installed"] is False
        assert {
            "name": "GITHUB_PERSONAL_ACCESS_TOKEN",
            "kind": "secret",
            "description": "A GitHub personal access token",
        } in github["missing"]
        await call(mcp, "secret_set", {"name": "GITHUB_PERSONAL_ACCESS_TOKEN", "value": "ghp_have-it-now"})
        again = await call(mcp, "extension_recommend", {"prompt": task})
        github = next(r for r in again["recommendations"] if r["short_name"] == "github")
        assert github["missing"] == []
        from_template = await call(mcp, "extension_recommend", {"template": "triage-issue"})
        assert from_template["recommendations"][0]["short_name"] == "github"
        assert "Describe the task" in await call_error(mcp, "extension_recommend", {})


async def test_an_openai_endpoint_refines_recommendations_through_a_recorded_execution(settings: Settings) -> None:
    task = "Keep our meeting notes in the team wiki and remember decisions between meetings"
    picks = [
        {"name": "notion", "why": "The team wiki lives in Notion pages."},
        {"name": "no-such-server", "why": "Not in the catalog: dropped."},
        {"name": "memory", "why": "Remembers decisions from one meeting to the next."},
    ]
    async with LLMDouble() as llm:
        llm.script = [Say(json.dumps({"recommendations": picks}))]
        settings.openai_base_url = llm.base_url
        settings.openai_api_key = SecretStr("test-key")
        settings.openai_model = "fake-model"
        async with local_hub(settings) as (_, mcp):
            refined = await call(mcp, "extension_recommend", {"prompt": task})
            assert [r["short_name"] for r in refined["recommendations"]] == ["notion", "memory"]
            assert refined["recommendations"][0]["why"] == "The team wiki lives in Notion pages."
            assert refined["recommendations"][0]["config"]["cmd"] == "npx"  # still prefilled from the catalog
            assert refined["method"] == f"re-ranked by fake-model (execution {refined['execution_id']})"
            prompt = json.dumps(llm.turns[0].body["messages"])
            assert task in prompt and "- notion: " in prompt and "- slack: " in prompt
            run = await call(mcp, "execution_get", {"id": refined["execution_id"]})
            assert run["template"] == "recommend-extensions" and run["status"] == "succeeded"
            assert run["trigger"]["ref"] == "extension_recommend" and run["structured_output"]["recommendations"]

            offline = await call(mcp, "extension_recommend", {"prompt": task, "refine": False})
            assert offline["execution_id"] is None and offline["method"].startswith("offline keyword ranking")
            assert len(llm.turns) == 1  # refine=false asks no model

            llm.script = [Say("You want Notion, I think.")]  # prose, not the JSON the template asks for
            fallback = await call(mcp, "extension_recommend", {"prompt": task})
            assert "not refined: execution" in fallback["method"] and "is not JSON" in fallback["method"]
            assert fallback["recommendations"] == offline["recommendations"]
