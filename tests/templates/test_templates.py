"""Templates: the sandbox, Goose recipe rules, parameter types, the template tools, the library, prompts,
resources, and Goose recipe import/export checked by the real `goose recipe validate`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client

from harness.tools import tool_path
from hub.context import AppContext
from hub.errors import InvalidArguments
from hub.settings import Settings
from hub.templates import store
from hub.templates.definition import Parameter, TemplateDefinition, bind_values, check_definition, render
from hub.templates.library import library
from tests.engine_support import hub_running

pytestmark = pytest.mark.anyio


# -- the sandbox -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ 'a' * 1000000000 }}",
        "{{ 2 ** 100000 }}",
    ],
)
def test_template_injection_fails_cleanly(source: str) -> None:
    with pytest.raises(InvalidArguments) as caught:
        render(source, {"x": "value"})
    assert "sandbox" in caught.value.message or "undefined" in caught.value.message


def test_parameter_values_are_data_never_templates() -> None:
    assert render("Hi {{ name }}", {"name": "{{ ''.__class__ }}{% raw %}"}) == "Hi {{ ''.__class__ }}{% raw %}"


@given(st.text(max_size=200))
def test_any_value_renders_verbatim(value: str) -> None:
    assert render("[{{ v }}]", {"v": value}) == f"[{value}]"


def test_undefined_variables_and_syntax_errors_say_what_to_fix() -> None:
    with pytest.raises(InvalidArguments, match=r"uses something undefined .*'nme' is undefined"):
        render("Hi {{ nme }}", {"name": "x"})
    with pytest.raises(InvalidArguments, match="Jinja syntax error on line 1"):
        render("Hi {{ name ", {"name": "x"})


# -- recipe rules and parameter types ---------------------------------------------------------------


def definition(prompt: str, *parameters: dict[str, Any]) -> TemplateDefinition:
    return TemplateDefinition(
        name="t", title="T", prompt=prompt, parameters=[Parameter.model_validate(p) for p in parameters]
    )


@pytest.mark.parametrize(
    ("prompt", "parameters", "message"),
    [
        ("{{ a }}", [{"key": "a", "requirement": "optional"}], "optional parameters need a default"),
        ("{{ a }}", [{"key": "a", "default": "x"}], "required parameters cannot have a default"),
        ("{{ a }}", [{"key": "a"}, {"key": "b"}], "parameters.b: declared but never used"),
        ("{{ a }} {{ c }}", [{"key": "a"}], "{{ c }} is used but not declared"),
        ("{{ a }}", [{"key": "a", "input_type": "select"}], "select parameters need options"),
        (
            "{{ a }}",
            [{"key": "a", "input_type": "number", "requirement": "optional", "default": "many"}],
            "default does not fit",
        ),
        ("{{ a }}", [{"key": "a"}, {"key": "a"}], "declared more than once"),
    ],
)
def test_goose_recipe_rules_are_enforced(prompt: str, parameters: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidArguments) as caught:
        check_definition(definition(prompt, *parameters))
    assert message in caught.value.message


def test_parameter_values_are_converted_to_their_types() -> None:
    params = [
        Parameter(key="n", input_type="number"),
        Parameter(key="b", input_type="boolean"),
        Parameter(key="o", input_type="object"),
        Parameter(key="a", input_type="array", requirement="optional", default="[1, 2]"),
        Parameter(key="s", input_type="select", options=["low", "high"]),
        Parameter(key="d", input_type="date"),
    ]
    values = bind_values(params, {"n": "42", "b": "yes", "o": '{"k": 1}', "s": "high", "d": "2026-11-25"})
    assert values == {"n": 42, "b": True, "o": {"k": 1}, "a": [1, 2], "s": "high", "d": "2026-11-25"}
    with pytest.raises(InvalidArguments, match="Parameter 'n' must be a number"):
        bind_values(params, {**values, "n": "lots"})
    with pytest.raises(InvalidArguments, match=r"Parameter 's' must be one of \['low', 'high'\]"):
        bind_values(params, {**values, "s": "urgent"})
    with pytest.raises(InvalidArguments, match="Missing required parameter\\(s\\): n \\(number\\)"):
        bind_values(params, {k: v for k, v in values.items() if k != "n"})
    with pytest.raises(InvalidArguments, match="Parameter 'd' must be an ISO date"):
        bind_values(params, {**values, "d": "next tuesday"})


# -- the tools -------------------------------------------------------------------------------------


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[AppContext]:
    async with hub_running(settings) as app:
        yield app


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content  # type: ignore[return-value]


async def error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


NOTE = {
    "name": "note",
    "title": "Write a note",
    "description": "Turns points into a note",
    "prompt": "Write a {{ tone }} note about {{ points }}.",
    "parameters": [
        {"key": "points", "description": "What to say"},
        {
            "key": "tone",
            "input_type": "select",
            "options": ["short", "long"],
            "requirement": "optional",
            "default": "short",
        },
    ],
    "agent": "command",
    "agent_settings": {"argv": ["cat"], "timeout": 30},
    "tags": ["Notes", "team"],
}


async def test_every_change_bumps_the_version(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        created = await call(client, "template_create", **NOTE)
        assert created["version"] == 1 and created["tags"] == ["notes", "team"]
        changed = await call(client, "template_update", name="note", prompt="Write a {{ tone }} memo on {{ points }}.")
        assert changed["version"] == 2 and changed["title"] == "Write a note"
        same = await call(client, "template_update", name="note", title="Write a note")
        assert same["version"] == 2
        stale = await error(client, "template_update", name="note", title="New", expected_version=1)
        assert "is at version 2, not 1: someone changed it" in stale
        run = await call(client, "template_run", name="note", params={"points": "lunch"}, wait=20)
        assert run["template_version"] == 2 and run["prompt"] == "Write a short memo on lunch."
        assert "is not" not in run["output"]


async def test_bad_templates_and_names_get_errors_that_say_what_to_do(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        await call(client, "template_create", **NOTE)
        assert "exists already" in await error(client, "template_create", **NOTE)
        assert "Unknown agent 'gpt'; this hub has: command, goose, openai, sampling" in await error(
            client, "template_create", **{**NOTE, "name": "other", "agent": "gpt"}
        )
        assert "No template named 'nope'. List templates with template_list." in await error(
            client, "template_get", name="nope"
        )
        text = await error(client, "template_create", **{**NOTE, "name": "bad", "prompt": "{{ ''.__class__ }}"})
        assert "{{ __class__ }}" not in text and "recipe rules" in text
        assert "Missing required parameter(s): points (What to say)." in await error(
            client, "template_render", name="note"
        )


async def test_list_filters_search_and_pages(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        for i in range(5):
            await call(
                client,
                "template_create",
                **{**NOTE, "name": f"note-{i}", "title": f"Note {i}", "tags": ["notes"] if i % 2 else ["other"]},
            )
        everything = await call(client, "template_list", limit=200)
        assert everything["total"] == 9  # five notes and the four library templates
        tagged = await call(client, "template_list", tag="notes")
        assert [t["name"] for t in tagged["templates"]] == ["note-1", "note-3"]
        by_agent = await call(client, "template_list", agent="openai")  # built-ins run on the default runner
        assert by_agent["templates"] == []
        found = await call(client, "template_list", search="TRANSCRIPT")
        assert [t["name"] for t in found["templates"]] == ["meeting-summary"]
        page = await call(client, "template_list", search="NOTE-", limit=2, offset=2)
        assert [t["name"] for t in page["templates"]] == ["note-2", "note-3"] and page["next_offset"] == 4
        last = await call(client, "template_list", search="note-", limit=2, offset=4)
        assert last["next_offset"] is None and last["templates"][0]["parameters"] == ["points*", "tone"]


async def test_render_copy_and_delete(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        await call(client, "template_create", **NOTE)
        rendered = await call(client, "template_render", name="note", params={"points": "x", "tone": "long"})
        assert rendered["prompt"] == "Write a long note about x." and rendered["version"] == 1
        copy = await call(client, "template_copy", name="meeting-summary", new_name="standup-summary", title="Standup")
        assert copy["version"] == 1 and copy["title"] == "Standup" and copy["created_by"] == "local-owner"
        deleted = await call(client, "template_delete", name="note")
        assert deleted == {"name": "note", "version": 1}
        assert "No template named 'note'" in await error(client, "template_delete", name="note")


async def test_templates_are_prompts_and_resources(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        await call(client, "template_create", **NOTE)
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"note", "meeting-summary", "daily-digest", "triage-issue"} <= set(prompts)
        arguments = {a.name: a for a in prompts["meeting-summary"].arguments or []}
        assert arguments["transcript"].required and not arguments["language"].required
        got = await client.get_prompt("note", {"points": "the plan"})
        assert got.messages[0].content.text == "Write a short note about the plan."  # type: ignore[union-attr]
        with pytest.raises(Exception, match="Missing required parameter"):
            await client.get_prompt("note", {})
        resource = await client.read_resource("goosuke://templates/note")
        assert '"name": "note"' in resource.contents[0].text  # type: ignore[union-attr]
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"goosuke://templates/{name}", "goosuke://executions/{id}"} <= templates


# -- the built-in library --------------------------------------------------------------------------


async def test_the_library_is_seeded_once_read_only_and_updated_by_the_hub(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        names = {t["name"] for t in (await call(client, "template_list"))["templates"]}
        assert names == {"meeting-summary", "daily-digest", "recommend-extensions", "triage-issue"}
        refused = await client.call_tool("template_update", {"name": "meeting-summary", "title": "Our summary"})
        assert refused.is_error and "template_copy" in refused.content[0].text  # type: ignore[union-attr]
        await call(client, "template_copy", name="daily-digest", new_name="our-digest")
        await call(client, "template_update", name="our-digest", title="Our digest")
    async with hub_running(settings) as app, Client(app.server) as client:
        listed = {t["name"]: t for t in (await call(client, "template_list"))["templates"]}
        assert set(listed) == names | {"our-digest"}  # a restart seeds nothing twice
        assert listed["meeting-summary"]["version"] == 1 and listed["our-digest"]["title"] == "Our digest"
        # a newer library (a hub upgrade) updates every built-in; the copy is the user's
        newer = [d.model_copy(update={"description": d.description + " (v2)"}) for d in library()]
        written = await store.seed_library(app.db, newer)
        assert written == ["daily-digest", "meeting-summary", "recommend-extensions", "triage-issue"]
        triage = await call(client, "template_get", name="triage-issue")
        assert triage["version"] == 2 and triage["description"].endswith("(v2)") and triage["updated_by"] == "library"
        assert not (await call(client, "template_get", name="our-digest"))["description"].endswith("(v2)")


async def test_meeting_summary_asks_for_decisions_owners_and_questions_in_the_channels_language() -> None:
    meeting = {d.name: d for d in library()}["meeting-summary"]
    values = bind_values(meeting.parameters, {"transcript": "ana: on vend vendredi", "channel": "#équipe"})
    prompt = render(meeting.prompt, values)
    assert "Summarise this transcript from #équipe." in prompt
    assert "language most of the transcript is written in" in prompt
    for part in ("Decisions", "Action items", "owner: task", "Open questions", "ana: on vend vendredi"):
        assert part in prompt
    assert "Write the whole summary in German." in render(meeting.prompt, {**values, "language": "German"})


# -- Goose recipes ---------------------------------------------------------------------------------


def goose_validate(recipe: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "GOOSE_DISABLE_KEYRING": "1",
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
    }
    goose = str(tool_path("GOOSUKE_GOOSE_BIN"))
    return subprocess.run(
        [goose, "recipe", "validate", str(path)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_exported_recipes_pass_goose_recipe_validate(hub: AppContext, tmp_path: Path) -> None:
    async with Client(hub.server) as client:
        await call(
            client,
            "template_create",
            **{
                **NOTE,
                "name": "with-hub",
                "extensions": ["goosuke"],
                "agent": "goose",
                "agent_settings": {"provider": "openai", "model": "gpt-4o", "max_turns": 7},
            },
        )
        for name in ("meeting-summary", "daily-digest", "triage-issue", "with-hub"):
            exported = await call(client, "template_export_recipe", name=name)
            checked = goose_validate(exported["recipe_yaml"], tmp_path)
            assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"
            assert "recipe file is valid" in checked.stdout + checked.stderr
        recipe = exported["recipe"]
        assert recipe["extensions"] == [
            {
                "type": "streamable_http",
                "name": "goosuke",
                "uri": f"{hub.settings.base_url}/mcp",
                "headers": {"Authorization": "Bearer ${GOOSUKE_TOKEN}"},
                "env_keys": ["GOOSUKE_TOKEN"],
                "timeout": 300,
            }
        ]
        assert recipe["settings"] == {"goose_provider": "openai", "goose_model": "gpt-4o", "max_turns": 7}
        assert recipe["parameters"][1] == {
            "key": "tone",
            "input_type": "select",
            "requirement": "optional",
            "description": "tone",
            "default": "short",
            "options": ["short", "long"],
        }


GOOSE_EXAMPLE = """
version: "1.0.0"
title: "Repo summary"
description: "Summarize a repo file"
instructions: "You are terse. Focus on {{ focus }}."
prompt: "Summarize {{ target }} focusing on {{ focus }}."
parameters:
  - {key: target, input_type: string, requirement: required, description: "Path"}
  - {key: focus, input_type: string, requirement: optional, default: "structure", description: "Focus"}
extensions:
  - {type: streamable_http, name: hub, uri: "http://127.0.0.1:8765/mcp", headers: {Authorization: "Bearer x"}}
  - {type: builtin, name: developer}
settings: {goose_provider: openai, goose_model: gpt-4o, max_turns: 20}
response: {json_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}}
"""


async def test_a_goose_recipe_imports_as_a_template_and_round_trips(hub: AppContext, tmp_path: Path) -> None:
    async with Client(hub.server) as client:
        imported = await call(client, "template_import_recipe", recipe=GOOSE_EXAMPLE)
        template = imported["template"]
        assert template["name"] == "repo-summary" and template["agent"] == "goose"
        assert template["extensions"] == ["hub", "developer"]
        assert template["agent_settings"]["max_turns"] == 20 and template["runner"] == "repo-summary"
        runner = await call(client, "runner_get", name="repo-summary")  # the provider is an admin's, on a runner
        assert runner["provider"] == "openai" and runner["models"] == ["gpt-4o"] and runner["builtins"] == []
        schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
        assert template["agent_settings"]["response_schema"] == schema
        assert not any("schema" in w for w in imported["warnings"])
        assert any("'hub' must be known to the hub" in w for w in imported["warnings"])
        again = await error(client, "template_import_recipe", recipe=GOOSE_EXAMPLE)
        assert "exists already" in again
        replaced = await call(
            client, "template_import_recipe", recipe=GOOSE_EXAMPLE.replace("terse", "kind"), replace=True
        )
        assert replaced["template"]["version"] == 2
        exported = await call(client, "template_export_recipe", name="repo-summary")
        assert goose_validate(exported["recipe_yaml"], tmp_path).returncode == 0
        assert exported["recipe"]["response"] == {"json_schema": schema}
        assert exported["recipe"]["settings"]["goose_provider"] == "openai"
        rendered = await call(client, "template_render", name="repo-summary", params={"target": "README.md"})
        assert rendered["prompt"] == "Summarize README.md focusing on structure."


async def test_recipes_the_hub_cannot_take_are_refused_clearly(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        assert "not valid YAML" in await error(client, "template_import_recipe", recipe="title: [unclosed")
        file_param = GOOSE_EXAMPLE.replace(
            "input_type: string, requirement: required", "input_type: file, requirement: required"
        )
        assert "file parameter" in await error(client, "template_import_recipe", recipe=file_param)
        unused = GOOSE_EXAMPLE.replace("Summarize {{ target }}", "Summarize it")
        assert "target: declared but never used" in await error(client, "template_import_recipe", recipe=unused)
