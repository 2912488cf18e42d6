"""Every secret the hub knows is masked before a run's result is stored, logged or returned: vault values
and the keys it was configured with (settings, GOOSUKE_GOOSE_ENV), in output, structured_output, error
and the log, checked in the database rows themselves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr
from sqlalchemy import select

from hub.db.models import Execution, ExecutionLogLine
from hub.settings import Settings
from hub.vault.service import Vault
from tests.engine_support import API, add_template, engine_of, finished, hub_running, python_argv

pytestmark = pytest.mark.anyio

VAULT_VALUE = "vault-canary-6f1d2c9a7b"
OPENAI_KEY = "sk-configured-canary-41e8b0"
GOOSE_KEY = "goose-env-canary-93ad57"

# Reads the values from a file (so they are in no template, runner or prompt) and prints them everywhere.
PRINTER = """
import json, sys
vault, openai, goose = open(sys.argv[1]).read().split()
print(vault, openai, goose, file=sys.stderr)
print(json.dumps({"token": vault, "nested": [{"key": openai}], goose: "as a key"}))
sys.exit(0 if len(sys.argv) < 3 else 3)
"""


def rows_text(rows: list[Any]) -> str:
    return json.dumps([{c.key: getattr(r, c.key) for c in r.__table__.columns} for r in rows], default=str)


async def test_vault_and_configured_secrets_never_reach_a_runs_stored_or_returned_result(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings.openai_api_key = SecretStr(OPENAI_KEY)
    settings.goose_env = {"ANTHROPIC_API_KEY": GOOSE_KEY, "OPENAI_HOST": "http://127.0.0.1:9"}
    values = tmp_path / "values.txt"
    values.write_text(f"{VAULT_VALUE} {OPENAI_KEY} {GOOSE_KEY}")
    async with hub_running(settings) as app, Client(app.server) as client:
        await app.services.get(Vault).put("PRINTED_TOKEN", VAULT_VALUE, actor="test")
        code = PRINTER.strip().replace("\n", "; ").replace(":;", ":")
        await add_template(app, "printer", argv=[*python_argv(code), str(values)])
        await add_template(app, "failer", argv=[*python_argv(code), str(values), "fail"])
        done = await finished(app, (await engine_of(app).submit("printer", trigger=API)).id)
        failed = await finished(app, (await engine_of(app).submit("failer", trigger=API)).id)
        assert done.status == "succeeded" and failed.status == "failed"
        results = []
        for execution in (done, failed):
            for tool in ("execution_get", "execution_logs"):
                got = await client.call_tool(tool, {"id": execution.id})
                assert not got.is_error, got
                results.append(json.dumps(got.model_dump(mode="json")))
        async with app.db.session() as session:
            executions = list(await session.scalars(select(Execution)))
            lines = list(await session.scalars(select(ExecutionLogLine)))
    stored = rows_text(executions) + rows_text(lines)
    for secret in (VAULT_VALUE, OPENAI_KEY, GOOSE_KEY):
        for where, text in (("execution_get", "".join(results)), ("the database", stored), ("the log", caplog.text)):
            assert secret not in text, f"{secret} in {where}"
    assert done.structured_output == {
        "token": "[secret PRINTED_TOKEN]",
        "nested": [{"key": "[secret GOOSUKE_OPENAI_API_KEY]"}],
        "[secret GOOSUKE_GOOSE_ENV.ANTHROPIC_API_KEY]": "as a key",
    }
    assert (
        "[secret PRINTED_TOKEN] [secret GOOSUKE_OPENAI_API_KEY] [secret GOOSUKE_GOOSE_ENV.ANTHROPIC_API_KEY]" in stored
    )


async def test_a_known_secret_given_as_a_parameter_is_masked_in_the_stored_params_and_prompt(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # params and the rendered prompt (and instructions) used to be stored exactly as the caller gave them
    caplog.set_level(logging.DEBUG)
    settings.openai_api_key = SecretStr(OPENAI_KEY)
    async with hub_running(settings, transport="http") as app, Client(app.server) as client:
        admin_token = (settings.data_dir / "admin.token").read_text().strip()  # written at first start
        await app.services.get(Vault).put("PRINTED_TOKEN", VAULT_VALUE, actor="test")
        echo = "import sys; print('got: ' + sys.stdin.read())"
        await add_template(app, "echo", argv=python_argv(echo), instructions="Keep {{ text }} safe.")
        given = f"{VAULT_VALUE} {OPENAI_KEY} {admin_token}"
        done = await finished(app, (await engine_of(app).submit("echo", {"text": given}, trigger=API)).id)
        assert done.status == "succeeded", done.error
        shown = []
        for tool in ("execution_get", "execution_logs", "execution_list"):
            got = await client.call_tool(tool, {"id": done.id} if tool != "execution_list" else {})
            assert not got.is_error, got
            shown.append(json.dumps(got.model_dump(mode="json")))
        async with app.db.session() as session:
            stored = rows_text(list(await session.scalars(select(Execution))))
            stored += rows_text(list(await session.scalars(select(ExecutionLogLine))))
    masked = "[secret PRINTED_TOKEN] [secret GOOSUKE_OPENAI_API_KEY] [secret admin.token]"
    assert done.params == {"text": masked}
    assert done.prompt == masked
    assert done.output is not None and done.output.strip() == f"got: {masked}"  # the agent got it masked too
    for secret in (VAULT_VALUE, OPENAI_KEY, admin_token):
        for where, text in (("the tools", "".join(shown)), ("the database", stored), ("the log", caplog.text)):
            assert secret not in text, f"{secret[:8]}... in {where}"
    assert f"Keep {masked} safe." in stored  # the rendered instructions as well


async def test_the_first_admin_token_is_masked_in_what_a_run_prints(settings: Settings) -> None:
    # DATA_DIR/admin.token was not among the values masked: a command runner printing it showed it
    async with hub_running(settings, transport="http") as app, Client(app.server) as client:
        token_file = settings.data_dir / "admin.token"
        admin_token = token_file.read_text().strip()
        code = (
            "import json, sys; t = open(sys.argv[1]).read().strip(); print(t, file=sys.stderr); "
            "print(json.dumps({'token': t}))"
        )
        await add_template(app, "leaker", argv=[*python_argv(code), str(token_file)])
        done = await finished(app, (await engine_of(app).submit("leaker", trigger=API)).id)
        assert done.status == "succeeded", done.error
        logs = await client.call_tool("execution_logs", {"id": done.id})
        async with app.db.session() as session:
            stored = rows_text(list(await session.scalars(select(Execution))))
            stored += rows_text(list(await session.scalars(select(ExecutionLogLine))))
    assert done.structured_output == {"token": "[secret admin.token]"}
    assert admin_token not in json.dumps(logs.model_dump(mode="json")) and admin_token not in stored
    assert "[secret admin.token]" in json.dumps(logs.model_dump(mode="json"))
