"""The command agent: any argv, prompt on stdin, stdout as output, an allow-listed environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from hub.settings import CHILD_ENV_PASSTHROUGH, Settings
from hub.vault.service import Vault
from tests.conftest import LiveHub
from tests.engine_support import API, add_template, engine_of, finished, hub_running, log_text, python_argv

pytestmark = pytest.mark.anyio

SHOW = """
import json, os, sys
prompt = sys.stdin.read()
print(json.dumps({"prompt": prompt, "env": sorted(os.environ), "params": json.loads(os.environ["GOOSUKE_PARAMS"]),
                  "template": os.environ["GOOSUKE_TEMPLATE"], "instructions": os.environ.get("GOOSUKE_INSTRUCTIONS"),
                  "id": os.environ["GOOSUKE_EXECUTION_ID"], "cwd": os.getcwd()}))
print("to the log only", file=sys.stderr)
"""

WHOAMI = """
import json, os, urllib.request
request = urllib.request.Request(os.environ["GOOSUKE_URL"].removesuffix("/mcp") + "/api/tools/whoami", data=b"{}",
                                 headers={"Authorization": "Bearer " + os.environ["GOOSUKE_TOKEN"],
                                          "Content-Type": "application/json"})
print(urllib.request.urlopen(request).read().decode())
"""


async def test_the_prompt_goes_to_stdin_and_a_json_stdout_is_structured_output(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(
            app, "show", argv=python_argv(SHOW), prompt="Hello {{ text }}", instructions="Rules: {{ text }}"
        )
        info = await finished(app, (await engine_of(app).submit("show", {"text": "ana"}, trigger=API)).id)
        assert info.status == "succeeded", info.error
        data = info.structured_output
        assert data is not None and json.loads(info.output or "") == data
        assert data["prompt"] == "Hello ana" and data["instructions"] == "Rules: ana"
        assert data["params"] == {"text": "ana"} and data["template"] == "show" and data["id"] == info.id
        allowed = set(CHILD_ENV_PASSTHROUGH) | {
            "GOOSUKE_EXECUTION_ID",
            "GOOSUKE_TEMPLATE",
            "GOOSUKE_PARAMS",
            "GOOSUKE_INSTRUCTIONS",
            "LC_CTYPE",
        }
        assert set(data["env"]) <= allowed, set(data["env"]) - allowed
        assert data["cwd"].startswith("/") and "goosuke-run-" in data["cwd"]
        assert "stderr: to the log only" in await log_text(app, info.id)


async def test_a_command_template_needs_a_runner(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        result = await client.call_tool(
            "template_create", {"name": "bare", "title": "Bare", "prompt": "x", "agent": "command"}
        )
    assert result.is_error
    assert "The command agent has no built-in runner" in result.content[0].text
    assert "runner_create" in result.content[0].text


async def test_a_command_with_the_goosuke_extension_calls_the_hub_with_its_run_token(live_hub: LiveHub) -> None:
    app = live_hub.context
    await add_template(app, "ask-hub", argv=python_argv(WHOAMI), extensions=["goosuke"])
    info = await finished(app, (await engine_of(app).submit("ask-hub", trigger=API)).id)
    assert info.status == "succeeded", info.error
    assert info.structured_output is not None
    assert info.structured_output["name"] == f"run:{info.id}"
    assert info.structured_output["role"] == "operator"


PRINT_TOKEN = """
import json, os, pathlib, sys
token = os.environ["GOOSUKE_TOKEN"]
pathlib.Path(json.loads(os.environ["GOOSUKE_PARAMS"])["keep"]).write_text(token)  # for the test to check
print(token)
print(token, file=sys.stderr)
"""


async def test_the_run_token_an_agent_prints_is_masked_in_the_output_and_the_log(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    app = live_hub.context
    await add_template(
        app,
        "print-token",
        prompt="Keep the token in {{ keep }}",
        argv=python_argv(PRINT_TOKEN),
        extensions=["goosuke"],
        parameters=[{"key": "keep", "requirement": "required"}],
    )
    kept = tmp_path / "token"
    info = await finished(app, (await engine_of(app).submit("print-token", {"keep": str(kept)}, trigger=API)).id)
    assert info.status == "succeeded", info.error
    token = kept.read_text()
    assert token.startswith("gsk_") and info.output == f"[secret run-token:{info.id}]"
    text = await log_text(app, info.id)
    assert token not in text and f"stderr: [secret run-token:{info.id}]" in text
    assert app.services.get(Vault).scrub(token) == token  # forgotten once the run ended (and revoked)


async def test_a_stdio_hub_cannot_give_an_agent_access_to_itself(settings: Settings) -> None:
    async with hub_running(settings, transport="stdio") as app:
        await add_template(app, "ask-hub", argv=python_argv(WHOAMI), extensions=["goosuke"])
        info = await finished(app, (await engine_of(app).submit("ask-hub", trigger=API)).id)
    assert info.status == "failed"
    assert "This hub serves MCP over stdio only" in (info.error or "")


async def test_a_vault_secret_an_agent_prints_is_masked_in_the_log_and_the_output(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        stored = await client.call_tool("secret_set", {"name": "DEPLOY_KEY", "value": "s3cr3t-value-42"})
        assert not stored.is_error, stored.content[0].text
        leak = python_argv(
            "import sys\nprint('key is s3cr3t-value-42')\nprint('again s3cr3t-value-42', file=sys.stderr)"
        )
        await add_template(app, "leaky", argv=leak)
        info = await finished(app, (await engine_of(app).submit("leaky", trigger=API)).id)
        text = await log_text(app, info.id)
    assert info.output == "key is [secret DEPLOY_KEY]"
    assert "s3cr3t-value-42" not in text and "stderr: again [secret DEPLOY_KEY]" in text
