"""Docs that run: every JSON, shell, YAML and Python example of README.md and docs/*.md carries a marker,
and each runnable one passes against a real `goosuke serve`, a document's examples in order on one hub
(with the model and Discord doubles when its markers ask for them)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from harness import REPO
from harness.doubles.discord import DiscordDouble
from tests.discord.support import build_world
from tests.docs.examples import DOCS, collect, document_problems, marking_problems, needs, parse
from tests.docs.hub import ModelDouble, document_hub

RUNNABLE = {"sh", "call", "python", "client", "json"}


def test_every_example_is_marked() -> None:
    problems = []
    for doc in DOCS:
        examples = collect(doc)
        problems += [problem for example in examples for problem in marking_problems(example)]
        problems += document_problems(examples)
    assert not problems, "\n".join(problems)


@pytest.mark.anyio
@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(REPO)))
async def test_examples_run(doc: Path, tmp_path: Path, port: int) -> None:
    examples = [example for example in collect(doc) if not marking_problems(example)]
    plain = [example for example in examples if example.kind == "json" and "answer" not in example.options]
    unparsed = [problem for example in plain if (problem := parse(example))]
    assert not unparsed, "\n".join(unparsed)
    runnable = [example for example in examples if example.kind in RUNNABLE and example not in plain]
    if not runnable:
        return
    async with AsyncExitStack() as stack:
        llm = await stack.enter_async_context(ModelDouble()) if needs(examples, "llm", "model") else None
        discord, channel = None, None
        if needs(examples, "discord-channel"):
            discord = await stack.enter_async_context(DiscordDouble())
            channel = build_world(discord).general
        hub = await stack.enter_async_context(document_hub(tmp_path, port, llm=llm, discord=discord, channel=channel))
        failures = [failure for example in runnable if (failure := await hub.run(example))]
    assert not failures, "\n\n".join(failures)
