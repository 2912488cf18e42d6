"""Every time a tool returns carries its offset (UTC), on SQLite (which hands times back without
one) as on PostgreSQL: a small scenario's outputs are walked for datetime strings."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.settings import Settings
from tests.extension_support import call, local_hub

pytestmark = pytest.mark.anyio

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(?P<offset>Z|[+-]\d{2}:?\d{2})?$")


def _times(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, string) in ``value`` that looks like a datetime."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _times(v, f"{path}[{i}]")]
    if isinstance(value, str) and DATETIME.match(value):
        return [(path, value)]
    return []


async def test_every_datetime_a_tool_returns_has_an_offset(settings: Settings) -> None:
    outputs: dict[str, Any] = {}
    async with local_hub(settings) as (_, mcp):

        async def run(tool: str, args: dict[str, Any] | None = None) -> Any:
            outputs[tool] = await call(mcp, tool, args)
            return outputs[tool]

        await run("user_create", {"username": "ada", "password": "correct-horse-battery", "role": "operator"})
        await run("user_list")
        await run("token_create", {"name": "ci", "role": "viewer", "username": "ada", "expires_in_days": 3})
        await run("token_list")
        await run("secret_set", {"name": "API_TOKEN", "value": "a-secret-value-for-times"})
        await run("secret_list")
        template = {
            "name": "echo",
            "title": "echo",
            "prompt": "{{ text }}",
            "agent": "command",
            "agent_settings": {"argv": ["true"]},
            "parameters": [{"key": "text", "requirement": "optional", "default": "hi"}],
        }
        await run("template_create", template)
        await run("template_get", {"name": "echo"})
        await run("template_list", {})
        execution = await run("template_run", {"name": "echo", "wait": 20})
        await run("execution_get", {"id": execution["id"]})
        await run("execution_list", {})
        await run("schedule_create", {"name": "nightly", "template": "echo", "cron": "0 3 * * *"})
        await run("schedule_list", {})
        await run("action_list", {})
        await run("hub_info")
    found = [(tool, path, value) for tool, output in outputs.items() for path, value in _times(output)]
    for tool in ("user_list", "token_list", "secret_list", "template_get", "execution_get"):
        assert any(t == tool for t, _, _ in found), f"{tool} returned no time: {outputs[tool]}"
    naive = [(tool, path, value) for tool, path, value in found if not DATETIME.match(value)["offset"]]  # type: ignore[index]
    assert not naive, naive
