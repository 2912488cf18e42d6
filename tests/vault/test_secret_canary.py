"""A canary secret goes through every path (tools, extension launch, federated output, errors, Goose sync,
rotation, secret settings), then the logs (caplog, a real `goosuke serve`'s stderr and the extensions'
own stderr logs), the SQLite database files and every output are searched for it. Only secret_reveal may
show it."""

from __future__ import annotations

import json
import logging
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from harness.processes import free_port, hub_env, npm_server, serving
from hub.settings import Settings
from tests.extension_support import REPO, local_hub, stdio_test_server

pytestmark = pytest.mark.anyio


class Recorder:
    """Calls tools and keeps every output (results and errors) for the final search."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.outputs: list[str] = []

    async def __call__(self, tool: str, args: dict[str, Any] | None = None, *, ok: bool = True) -> Any:
        result = await self.client.call_tool(tool, args or {})
        text = json.dumps(result.model_dump(mode="json"))
        self.outputs.append(text)
        assert result.is_error is not ok, f"{tool}: {text[:500]}"
        return result.structured_content


async def exercise(rec: Recorder, canary: str, goose_dir: Path) -> None:
    await rec("secret_set", {"name": "CANARY_TOKEN", "value": canary, "description": "the canary"})
    await rec("secret_set", {"name": "CANARY_TOKEN", "value": canary})  # replaced, same value
    await rec("secret_list")
    # errors that must not echo the value
    await rec("secret_set", {"name": "bad name", "value": canary}, ok=False)
    await rec("secret_set", {"name": "CANARY_TOKEN", "value": 12345}, ok=False)
    await rec("extension_add", {"extension": stdio_test_server("leaky", envs={"X": canary})}, ok=False)
    await rec("extension_add", {"extension": stdio_test_server("leaky", headers={"A": canary})}, ok=False)
    # launch with the secret, and a server that prints it: outputs are scrubbed
    added = await rec("extension_add", {"extension": stdio_test_server("canary", env_keys=["CANARY_TOKEN"])})
    assert added["start_error"] is None
    assert await rec("canary__env", {"name": "CANARY_TOKEN"}) is None  # plain text result
    assert "[secret CANARY_TOKEN]" in rec.outputs[-1]
    await rec("extension_add", {"extension": {"type": "stdio", "name": "everything", "cmd": npm_server("everything"),
                                              "args": [], "env_keys": ["CANARY_TOKEN"], "timeout": 60}})  # fmt: skip
    await rec("everything__get-env")  # the reference server dumps its whole environment
    assert "[secret CANARY_TOKEN]" in rec.outputs[-1]
    leak = stdio_test_server("crashy", "--leak-env-and-crash", "CANARY_TOKEN", env_keys=["CANARY_TOKEN"])
    crashed = await rec("extension_add", {"extension": leak})
    assert "starting with token [secret CANARY_TOKEN]" in crashed["start_error"]
    await rec("extension_check", {"name": "crashy"})
    await rec("crashy__echo", {"text": "x"}, ok=False)
    await rec("extension_check", {"name": "canary"})
    await rec("extension_get", {"name": "canary"})
    await rec("extension_list")
    await rec("goose_config_sync", {"mode": "push"})
    await rec("goose_config_sync", {"mode": "both", "dry_run": True})
    await rec("goose_config_render")
    await rec("secret_rotate_key")
    await rec("canary__env", {"name": "CANARY_TOKEN"})
    await rec("hub_info")
    assert canary not in (goose_dir / "config.yaml").read_text()
    revealed = await rec("secret_reveal", {"name": "CANARY_TOKEN"})
    assert revealed["value"] == canary
    rec.outputs.pop()  # the one output allowed to hold it


def search(canary: str, outputs: list[str], files: list[Path]) -> list[str]:
    found = [f"output #{i}" for i, text in enumerate(outputs) if canary in text]
    for path in files:
        if path.is_file() and canary.encode() in path.read_bytes():
            found.append(str(path))
    return found


async def test_the_canary_never_leaks_in_process(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"CANARY-{uuid.uuid4().hex}"
    settings.goose_config_path = tmp_path / "goose" / "config.yaml"
    async with local_hub(settings) as (_, mcp):
        rec = Recorder(mcp)
        await exercise(rec, canary, settings.goose_config_path.parent)
    files = list(tmp_path.rglob("*"))  # the extensions' stderr logs included: they are masked before the disk
    assert search(canary, [*rec.outputs, caplog.text], files) == []
    crashy_log = (settings.data_dir / "extensions" / "crashy.stderr.log").read_text()
    assert "starting with token [secret CANARY_TOKEN]" in crashy_log


async def test_the_canary_never_leaks_from_a_real_serve_process(tmp_path: Path, database_url: str) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    data = tmp_path / "data"
    goose_dir = tmp_path / "goose"
    port = free_port()
    log = tmp_path / "serve.stderr.log"
    env = hub_env(
        data,
        database_url,
        GOOSUKE_GOOSE_CONFIG_PATH=str(goose_dir / "config.yaml"),
        GOOSUKE_LOG_LEVEL="DEBUG",
        PYTHONPATH=str(REPO),
    )
    with serving(env, port, log=log):
        token = (data / "admin.token").read_text().strip()
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http), mode="legacy") as mcp,
        ):
            rec = Recorder(mcp)
            await exercise(rec, canary, goose_dir)
    stderr = log.read_text()
    assert "Uvicorn running" in stderr or "Application startup complete" in stderr or stderr  # the log was captured
    files = list(tmp_path.rglob("*"))
    found = search(canary, rec.outputs, files)
    assert found == [], f"the canary leaked into: {found}"
    for extension_log in data.glob("extensions/*.stderr.log"):  # the servers' own stderr, kept private
        assert stat.S_IMODE(extension_log.stat().st_mode) == 0o600
    assert sys.executable  # the servers ran under this interpreter
