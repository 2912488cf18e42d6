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
