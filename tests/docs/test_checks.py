"""The docs test fails when an example is wrong: markers are read strictly, and each kind of example
reports the way it breaks (a failed call, a wrong error, a stale sample answer, a Goose entry off
Goose's schema, a client command that does not start, a script that raises)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.clients import goose_entries
from tests.docs.examples import collect, document_problems, marking_problems
from tests.docs.hub import document_hub

FENCE = "```"


def doc(tmp_path: Path, *blocks: tuple[str, str, str]) -> Path:
    """A Markdown file of (marker, language, body) blocks; an empty marker leaves the block unmarked."""
    parts = []
    for marker, lang, body in blocks:
        if marker:
            parts.append(f"<!-- example: {marker} -->")
        parts += [f"{FENCE}{lang}", body, FENCE, ""]
    path = tmp_path / "doc.md"
    path.write_text("\n".join(parts))
    return path


def test_markers_are_read_strictly(tmp_path: Path) -> None:
    path = doc(
        tmp_path,
        ("", "yaml", "extensions: {}"),
        ("", "python", "print(1)"),
        ("sh expect", "sh", "true"),
        ('json answer="x"', "json", "{}"),
        ('sh llm="http://127.0.0.1:11434/v1"', "sh", "goosuke setup --provider ollama"),
        ("call", "json", "{}"),
        ('call whoami timeout="3"', "json", "{}"),
        ("client", "sh", "true"),
        ("python", "json", "{}"),
        ("skip", "python", "print(1)"),
        ("json answer", "json", "{}"),
    )
    problems = [p for example in collect(path) for p in marking_problems(example)]
    expected = [
        "a ```yaml block with no marker",
        "a ```python block with no marker",
        '`expect` needs a value: expect="..."',
        "`answer` takes no value",
        "llm='http://127.0.0.1:11434/v1' is not in the block",
        "`<!-- example: call TOOL -->` needs one tool name",
        "`call` takes no option timeout",
        "`client` marks a ```json, ```yaml block, not a ```sh one",
        "`python` marks a ```python block, not a ```json one",
        "a skipped example needs a reason",
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, says in zip(problems, expected, strict=True):
        assert says in problem
    [alone] = document_problems(collect(path))
    assert alone.endswith("`json answer` compares with the call just before it; there is none")


def test_goose_entries_are_checked_against_goose_schema_as_the_hub_reads_it(tmp_path: Path) -> None:
    good = "goosuke:\n  type: stdio\n  name: goosuke\n  enabled: true\n  cmd: goosuke\n  args: [stdio]\n"
    entries, problems = goose_entries("doc:1", good, tmp_path)
    assert problems == [] and entries["goosuke"]["cmd"] == "goosuke"
    for text, says in [
        (good + "  timout: 300\n", "unknown field `timout`; did you mean `timeout`?"),
        (good.replace("enabled: true", "enabled: 'yes'"), "`enabled` must be true or false"),
        (good.replace("name: goosuke", "name: Goosuke Hub"), "its key is not name_to_key('Goosuke Hub')"),
        ("goosuke: {type: sse, name: goosuke, enabled: false, uri: 'http://h/sse'}", "SSE is unsupported"),
        (
            "extensions:\n  goosuke:\n    type: streamable_http\n    name: goosuke\n    uri: http://h/mcp\n"
            "    headers: {Authorization: 'Bearer ${TOKEN}'}\n",
            "${TOKEN} is used but is neither in envs nor in env_keys",
        ),
        ("extensions: [1", "is not valid YAML"),
    ]:
        _, problems = goose_entries("doc:1", text, tmp_path)
        assert any(says in p for p in problems), (says, problems)


@pytest.mark.anyio
async def test_each_kind_of_example_reports_how_it_breaks(tmp_path: Path, port: int) -> None:
    broken_goose = (
        "goosuke:\n  type: stdio\n  name: goosuke\n  enabled: true\n  cmd: /nonexistent/goosuke\n  args: [stdio]"
    )
    path = doc(
        tmp_path,
        ("call user_create", "json", '{"username": "ada"}'),
        ('call user_create error="username: Field required"', "json", '{"username": "ada"}'),
        ("json answer", "json", '{"status": 422}'),
        ('call whoami error="Field required"', "json", "{}"),
        ("call template_run", "json", '{"name": "meeting-summary", "params": {"transcript": "x"}, "wait": 30}'),
        ('call whoami expect="nobody"', "json", "{}"),
        ('sh expect="goodbye"', "sh", "echo hello"),
        (
            "sh",
            "sh",
            'curl -s http://127.0.0.1:8765/api/tools/no_such_tool -X POST -H "Authorization: Bearer $GOOSUKE_TOKEN"',
        ),
        ("python", "python", "raise SystemExit('the example broke')"),
        ("client", "json", '{"mcpServers": {"goosuke": {"command": "/nonexistent/goosuke", "args": ["stdio"]}}}'),
        ("client", "yaml", broken_goose),
        ("client", "yaml", broken_goose.replace("/nonexistent/goosuke", "/path/to/goosuke/.venv/bin/goosuke")),
    )
    examples = collect(path)
    assert [p for example in examples for p in marking_problems(example)] == []
    async with document_hub(tmp_path, port) as hub:
        results = [await hub.run(example) for example in examples]
    says = [
        "user_create answered 422",
        "the error does not say 'username: Field required'",
        "the documented answer is not the real one",
        "documented to fail, but whoami answered 200",
        "template_run started a run that ended failed: The Goose binary was not found",
        "the answer does not say 'nobody'",
        "the output does not say 'goodbye'",
        "exited with 22",  # curl --fail-with-body on the 404
        "the example broke",
        "mcpServers.goosuke (/nonexistent/goosuke) did not answer tools/list",
        "the stdio entry 'goosuke' (/nonexistent/goosuke) did not answer tools/list",
    ]
    for example, result, text in zip(examples, results, [*says, None], strict=True):
        if text is None:
            assert result is None, result  # the placeholder checkout is this venv: that one connects
        else:
            assert result is not None and text in result, (example.where, text, result)
