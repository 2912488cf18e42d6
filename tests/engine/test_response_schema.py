"""A template's response schema (a Goose recipe's response.json_schema): the final answer is parsed as JSON,
checked, and kept as structured output; an answer that does not match fails the run with the reason."""

from __future__ import annotations

import pytest
from mcp import Client

from hub.settings import Settings
from tests.engine_support import API, add_template, engine_of, finished, hub_running, python_argv

pytestmark = pytest.mark.anyio

SUMMARY = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "items": {"type": "array", "items": {"type": "integer"}}},
    "required": ["summary"],
}


def printing(text: str) -> list[str]:
    return python_argv(f"import sys; sys.stdin.read(); print({text!r})")


async def test_an_answer_that_matches_becomes_structured_output(settings: Settings) -> None:
    async with hub_running(settings) as app:
        fenced = '```json\n{"summary": "all good", "items": [1, 2]}\n```'
        await add_template(app, "fits", argv=printing(fenced), response_schema=SUMMARY)
        info = await finished(app, (await engine_of(app).submit("fits", trigger=API)).id)
        assert info.status == "succeeded", info.error
        assert info.structured_output == {"summary": "all good", "items": [1, 2]}
        assert info.output == fenced


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"items": ["x"]}', "$: 'summary' is a required property; $.items[0]: 'x' is not of type 'integer'"),
        ("All good, nothing to report.", "the agent's answer is not JSON (Expecting value at line 1, column 1)"),
    ],
)
async def test_an_answer_that_does_not_match_fails_the_run_and_says_why(
    settings: Settings, answer: str, reason: str
) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "strict", argv=printing(answer), response_schema=SUMMARY)
        info = await finished(app, (await engine_of(app).submit("strict", trigger=API)).id)
        assert info.status == "failed" and info.exit_code == 0
        assert reason in (info.error or "")
        assert info.output == answer and info.structured_output is None  # what the agent said is kept


async def test_a_schema_that_is_not_json_schema_is_refused_with_the_field(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        result = await client.call_tool(
            "template_create",
            {
                "name": "bad-schema",
                "title": "Bad schema",
                "prompt": "Say hi.",
                "agent": "command",
                "agent_settings": {"argv": ["cat"], "response_schema": {"type": "nonsense"}},
            },
        )
        assert result.is_error
        text = result.content[0].text
        assert "agent_settings.response_schema: not a valid JSON Schema" in text and "'nonsense'" in text
