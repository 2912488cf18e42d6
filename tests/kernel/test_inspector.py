"""The MCP Inspector CLI (a real third-party client) lists tools and calls whoami over /mcp and /sse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import REPO
from harness.processes import hub_env, serving
from harness.tools import tool_path

INSPECTOR_TIMEOUT = 120


def inspector(*args: str, home: Path) -> dict[str, object]:
    env = dict(os.environ, HOME=str(home), MCP_CATALOG_PATH=str(home / "catalog.json"))
    done = subprocess.run(
        ["node", str(tool_path("GOOSUKE_INSPECTOR_CLI")), "--cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=INSPECTOR_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_inspector_lists_tools_and_calls_whoami_with_a_token(tmp_path: Path, port: int, path: str) -> None:
    data = tmp_path / "data"
    with serving(hub_env(data), port):
        token = (data / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}{path}"
        header = ["--header", f"Authorization: Bearer {token}"]
        listed = inspector(url, *header, "--method", "tools/list", home=tmp_path)
        called = inspector(url, *header, "--method", "tools/call", "--tool-name", "whoami", home=tmp_path)
        refused = subprocess.run(
            ["node", str(tool_path("GOOSUKE_INSPECTOR_CLI")), "--cli", url, "--method", "tools/list"],
            env=dict(os.environ, HOME=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=INSPECTOR_TIMEOUT,
        )
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[index, union-attr]
    assert {"whoami", "hub_info", "user_create"} <= names
    assert called["structuredContent"]["role"] == "admin"  # type: ignore[index]
    assert refused.returncode != 0


def test_inspector_drives_goosuke_stdio(tmp_path: Path) -> None:
    listed = inspector(
        "-e",
        f"GOOSUKE_DATA_DIR={tmp_path / 'data'}",
        "--cwd",
        str(REPO),
        sys.executable,
        "-m",
        "hub.cli",
        "stdio",
        "--method",
        "tools/call",
        "--tool-name",
        "whoami",
        home=tmp_path,
    )
    assert listed["structuredContent"]["via"] == "local"  # type: ignore[index]
