"""Docs that run: every JSON and shell example of README.md and docs/*.md carries a marker, and each
runnable one passes against a real `goosuke serve`, a document's examples in order on one hub."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import REPO
from harness.processes import serving
from tests.docs.examples import DOCS, Hub, collect, marking_problems, parse, shell_env

RUNNABLE = {"sh", "call"}


@contextmanager
def started(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """`goosuke serve` for one document's examples; a failed start shows the end of its log."""
    try:
        with serving(env, port, log=log):
            yield
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise AssertionError(f"{exc}\n--- serve.log\n{tail}") from exc


def test_every_example_is_marked() -> None:
    problems = [problem for doc in DOCS for example in collect(doc) for problem in marking_problems(example)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(REPO)))
def test_examples_run(doc: Path, tmp_path: Path, port: int) -> None:
    examples = [example for example in collect(doc) if not marking_problems(example)]
    unparsed = [problem for example in examples if example.kind == "json" and (problem := parse(example))]
    assert not unparsed, "\n".join(unparsed)
    runnable = [example for example in examples if example.kind in RUNNABLE]
    if not runnable:
        return
    home = tmp_path / "home"
    cwd = tmp_path / "work"  # where a pasted example runs: `.venv/bin/goosuke` is this venv's command
    cwd.mkdir(parents=True)
    (cwd / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = shell_env(home)
    log = tmp_path / "serve.log"
    with started(env, port, log):
        token = (home / ".local/share/goosuke/admin.token").read_text().strip()
        state = tmp_path / "state.sh"
        state.write_text(f"export GOOSUKE_TOKEN={token}\n")  # the docs' $GOOSUKE_TOKEN: the first-start token
        hub = Hub(url=f"http://127.0.0.1:{port}", token=token, env=env, cwd=cwd, state=state)
        failures = [failure for example in runnable if (failure := hub.run(example))]
    assert not failures, "\n\n".join(failures)
