"""Bounded rendering: string-building refused before it allocates, loops and work metered inside the
sandbox (a runaway loop stops on its own step budget), output streamed up to its limit; recipe YAML with alias
bombs or deep nesting refused, naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from hub.context import AppContext
from hub.errors import InvalidArguments
from hub.settings import Settings
from hub.templates.recipes import MAX_RECIPE_DEPTH
from hub.templates.rendering import MAX_RENDER_STEPS, MAX_RENDERED_CHARS, render, render_async
from tests.engine_support import hub_running

pytestmark = pytest.mark.anyio

TOO_BIG = f"the rendering would exceed {MAX_RENDERED_CHARS} characters"
HEAVY_LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ text }}"
# 248 bytes that expand to 9**6 strings: what made a 20 MB template before.
ALIAS_BOMB = (
    "title: bomb\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True))
    + "prompt: *f\n"
)


def refusal(source: str, values: dict[str, Any] | None = None) -> InvalidArguments:
    with pytest.raises(InvalidArguments) as caught:
        render(source, values or {})
    return caught.value


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.rjust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('\t' * 1000).expandtabs(100000) }}",
        "{{ '%*d'|format(10**9, 1) }}",
        "{{ '%*d' % (10**9, 1) }}",
        "{{ '%.1000000000f'|format(1.0) }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ '{:{w}}'.format(1, w=10**9) }}",
        "{{ range(100000)|join('x' * 2000000) }}",
        "{{ ('x' * 2000000).replace('', 'yy') }}",
        "{{ 'x'|center(10**9) }}",
        "{{ 'a\nb'|indent(10**9) }}",
        "{{ [1]|batch(10**9, 0)|list }}",
        "{{ range(5)|slice(10**9)|list }}",
        "{{ [1]|tojson(indent=10**9) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{% for i in range(100000) %}{{ p }}{% endfor %}",
    ],
)
def test_string_building_is_refused_before_it_allocates(source: str) -> None:
    problem = refusal(source, {"p": "y" * 100})
    assert TOO_BIG in problem.message
    assert problem.errors[0]["field"] == "prompt"


def test_work_hidden_in_a_block_is_counted_too() -> None:
    problem = refusal(
        "{% set x %}{% for i in range(100000) %}{{ p }}{% endfor %}{% endset %}{{ x|length }}", {"p": "y" * 1000}
    )
    assert "characters along the way" in problem.message


def test_lists_cannot_grow_in_place_and_lipsum_is_bounded() -> None:
    assert "sandbox forbids" in refusal("{% set l = [] %}{{ l.append(1) }}").message
    assert "lipsum" in refusal("{{ lipsum(10**9) }}").message
    assert "power too large" in refusal("{{ ((10**1000)**1000)**1000 }}").message


def test_ordinary_templates_render_as_before() -> None:
    source = (
        "{% for x in xs %}{{ loop.index }}:{{ x|upper }} {% endfor %}{{ '%3d'|format(7) }}{{ '{:>3}'.format('a') }}"
    )
    assert render(source, {"xs": ["a", "b"]}) == "1:A 2:B   7  a"
    assert len(render("{% for i in range(100000) %}literal{% endfor %}", {})) == 700_000


async def test_a_heavy_loop_stops_on_the_step_budget_inside_the_sandbox() -> None:
    with pytest.raises(InvalidArguments) as caught:
        await render_async(HEAVY_LOOP, {"text": "x"})
    # The sandbox's own budget ended the loop (a kill past the timeout says "longer than" instead).
    assert f"more than {MAX_RENDER_STEPS} loop iterations" in caught.value.message
    assert caught.value.errors[0]["field"] == "prompt"
    assert await render_async("{{ text }} again", {"text": "free"}) == "free again"


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[AppContext]:
    async with hub_running(settings) as app:
        yield app


async def test_a_heavy_template_render_is_a_clear_error_through_the_tools(hub: AppContext) -> None:
    async with Client(hub.server) as client:
        created = await client.call_tool(
            "template_create",
            {
                "name": "heavy",
                "title": "Heavy",
                "prompt": HEAVY_LOOP,
                "agent": "sampling",
                "parameters": [{"key": "text"}],
            },
        )
        assert not created.is_error, created.content
        result = await client.call_tool("template_render", {"name": "heavy", "params": {"text": "x"}})
        assert result.is_error
        assert "loop iterations" in result.content[0].text  # type: ignore[union-attr]
        again = await client.call_tool("template_render", {"name": "heavy", "params": {"text": "x"}})
        assert again.is_error  # the hub still answers, and the same way


@pytest.mark.parametrize("field", ["prompt", "instructions"])
async def test_deeply_nested_jinja_is_refused_naming_the_field(hub: AppContext, field: str) -> None:
    # Jinja's parser recurses once per bracket: this used to escape as a RecursionError (a 500)
    deep = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    arguments = {"name": "deep", "title": "Deep", "prompt": "hi", "agent": "sampling", field: deep}
    async with Client(hub.server) as client:
        result = await client.call_tool("template_create", arguments)
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "nests expressions too deeply" in text and field in text
        assert not (await client.call_tool("template_list", {})).is_error


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (ALIAS_BOMB, "aliases (*name) expand it beyond"),
        ("[" * 100_000, f"nested more than {MAX_RECIPE_DEPTH} levels"),
        ("title: x\nprompt: " + "{a: " * 5_000 + "b" + "}" * 5_000, f"nested more than {MAX_RECIPE_DEPTH} levels"),
    ],
)
async def test_hostile_recipe_yaml_is_refused_naming_the_recipe(hub: AppContext, recipe: str, expected: str) -> None:
    async with Client(hub.server) as client:
        result = await client.call_tool("template_import_recipe", {"recipe": recipe})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert expected in text
    assert "recipe" in text.lower()


async def test_a_recipe_with_a_few_aliases_still_imports(hub: AppContext) -> None:
    recipe = "title: Echo\ndescription: &d Says it twice\nprompt: *d\n"
    async with Client(hub.server) as client:
        result = await client.call_tool("template_import_recipe", {"recipe": recipe, "agent": "sampling"})
    assert not result.is_error, result.content
    assert result.structured_content["template"]["name"] == "echo"  # type: ignore[index]
