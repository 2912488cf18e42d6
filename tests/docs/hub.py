"""Running a document's examples against a real `goosuke serve` (docs/testing.md, "Docs that run").

`document_hub` starts the hub for one document (a fresh HOME, this venv's commands, the doubles the
document's markers ask for) and yields a :class:`Hub` that runs its examples in order, each block seeing
the shell variables the ones before it left."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.requests import Request
from starlette.responses import Response

from harness.doubles.discord import DiscordDouble
from harness.doubles.llm import LLMDouble, Say
from harness.processes import serving
from tests.docs import clients
from tests.docs.examples import FAKE_OPENAI_KEY, MODEL_ANSWER, Example, Places, parse, shell_env

SH_TIMEOUT = 120.0  # one block: a CLI start, a few HTTP calls, a template_run that waits
CALL_TIMEOUT = 90.0
FAILED = {"failed", "cancelled", "timed_out", "interrupted"}  # an execution that did not succeed
# The plain variables a block leaves (exported or not), as `declare` lines the next block sources;
# bash's own, read-only, integer and array variables stay out.
KEEP_VARIABLES = (
    "for __v in $(compgen -v); do"
    ' case "$__v" in BASH*|FUNC*|_|__*|PWD|OLDPWD|SHLVL|PPID|SHELLOPTS|EPOCH*|SRANDOM) continue;; esac;'
    ' __d=$(declare -p "$__v" 2>/dev/null) || continue;'
    ' __f=${__d#declare -}; __f=${__f%% *}; case "$__f" in *[aAirn]*) continue;; esac;'
    ' printf "%s\\n" "$__d"; done'
)
# `model`: the default runner the test makes, as the README's first summary does, on the model double
SETUP_MODEL = "docs-model"


class ModelDouble(LLMDouble):
    """The LLM double answering every request (the setup check, each run) with :data:`MODEL_ANSWER`."""

    async def _chat(self, request: Request) -> Response:
        self.script = [Say(MODEL_ANSWER)]
        return await super()._chat(request)


def texts(value: Any) -> str:
    """Every string in a JSON answer, one a line (what an `expect` or `error` text is looked for in)."""
    if isinstance(value, dict):
        return "\n".join(texts(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(texts(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class Hub:
    """A running `goosuke serve` the examples of one document share, and the shell state they build."""

    url: str
    token: str
    env: dict[str, str]
    cwd: Path
    state: Path
    places: Places
    llm: LLMDouble | None = None
    answer: Any = None  # the last call's answer, for a `json answer` after it
    default_runner: bool = False

    async def run(self, example: Example) -> str | None:
        """Run one example; the failure's description, or None when it passed."""
        needs_runner = "model" in example.options and not self.default_runner
        if needs_runner and (problem := await asyncio.to_thread(self._setup_model, example)):
            return problem
        if example.kind == "json":
            return self._answer(example) if "answer" in example.options else parse(example)
        expect = example.options.get("expect")
        if example.kind == "call":
            return await asyncio.to_thread(self._call, example)
        if example.kind == "sh":
            return await asyncio.to_thread(self._sh, example.where, self.places.apply(example), expect)
        if example.kind == "python":
            script = self.cwd / f"example_{example.line}.py"
            script.write_text(self.places.apply(example))
            return await asyncio.to_thread(self._sh, example.where, f"python {shlex.quote(str(script))}", expect)
        if example.kind == "client":
            return await self._client(example)
        return None

    # -- kinds -----------------------------------------------------------------------------

    def _call(self, example: Example) -> str | None:
        problem = parse(example)
        if problem:
            return problem
        answer = httpx2.post(
            f"{self.url}/api/tools/{example.tool}",
            content=self.places.apply(example).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=CALL_TIMEOUT,
        )
        try:
            self.answer = answer.json()
        except json.JSONDecodeError:
            return f"{example.where}: {example.tool} answered {answer.status_code} without JSON: {answer.text[:500]}"
        said = texts(self.answer)
        if "error" in example.options:  # an example of an error: it must fail, and say what the docs say
            if answer.status_code < 400:
                return f"{example.where}: documented to fail, but {example.tool} answered {answer.status_code}"
            if example.options["error"] not in said:
                return f"{example.where}: the error does not say {example.options['error']!r}: {answer.text[:2000]}"
            return None
        if answer.status_code != 200:
            return f"{example.where}: {example.tool} answered {answer.status_code}: {answer.text[:2000]}"
        if isinstance(self.answer, dict) and self.answer.get("status") in FAILED:
            error = self.answer.get("error")
            return f"{example.where}: {example.tool} started a run that ended {self.answer['status']}: {error}"
        if "expect" in example.options and example.options["expect"] not in said:
            return f"{example.where}: the answer does not say {example.options['expect']!r}: {answer.text[:2000]}"
        return None

    def _answer(self, example: Example) -> str | None:
        if problem := parse(example):
            return problem
        documented = json.loads(example.text)
        if documented != self.answer:
            return f"{example.where}: the documented answer is not the real one:\n{json.dumps(self.answer, indent=1)}"
        return None

    def _sh(self, where: str, text: str, expect: str | None = None) -> str | None:
        dump = self.cwd / ".example-state.new"
        script = "\n".join(
            [
                "set -euo pipefail",
                # curl -s prints an error body and exits 0; here an HTTP error fails the example
                'curl() { command curl --fail-with-body --show-error "$@"; }',
                f"source {shlex.quote(str(self.state))}",
                text,
                f"{KEEP_VARIABLES} > {shlex.quote(str(dump))}",
            ]
        )
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                env=self.env,
                cwd=self.cwd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # no terminal: a command that prompts fails instead of waiting
                timeout=SH_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"{where}: still running after {SH_TIMEOUT:.0f} s (does it wait for input or serve?)"
        if done.returncode != 0:
            return (
                f"{where}: exited with {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}"
            )
        if expect is not None and expect not in done.stdout:
            return f"{where}: the output does not say {expect!r}:\n{done.stdout[-3000:]}"
        self.state.write_text(dump.read_text())
        return None

    async def _client(self, example: Example) -> str | None:
        env = {**self.env, **await asyncio.to_thread(self.exported)}
        text = self.places.apply(example)
        if example.lang == "json":
            problems = await clients.claude_desktop(example.where, text, env, self.cwd)
        else:
            problems = await clients.goose(example.where, text, env, self.cwd, self.url)
        return "\n".join(problems) or None

    def _setup_model(self, example: Example) -> str | None:
        assert self.llm is not None, f"{example.where}: `model` needs the model double"
        command = f"goosuke setup --provider compatible --base-url {self.llm.base_url} --model {SETUP_MODEL} --yes"
        if problem := self._sh(example.where, command):
            return f"making the default runner for `model`: {problem}"
        self.default_runner = True
        return None

    def exported(self) -> dict[str, str]:
        """The exported variables of the shell state: what a client started from that shell inherits."""
        done = subprocess.run(
            ["bash", "-c", f"source {shlex.quote(str(self.state))}; env -0"],
            env={"PATH": self.env["PATH"]},
            capture_output=True,
            check=True,
        )
        pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
        return {name: value for name, value in pairs if name not in ("PWD", "SHLVL", "_", "PATH")}


def discord_env(discord: DiscordDouble) -> dict[str, str]:
    """`GOOSUKE_DISCORD_TOKEN=... goosuke serve` as the README says, with the double's URLs and short waits."""
    return {
        "GOOSUKE_DISCORD_TOKEN": discord.token,
        "GOOSUKE_DISCORD_API_BASE_URL": discord.api_base,
        "GOOSUKE_DISCORD_GATEWAY_URL": discord.gateway_url,
        "GOOSUKE_DISCORD_GUILD_READY_TIMEOUT": "0.05",
        "GOOSUKE_DISCORD_RECONNECT_INITIAL": "0.05",
        "GOOSUKE_DISCORD_RECONNECT_MAX": "0.5",
    }


@asynccontextmanager
async def document_hub(
    tmp_path: Path,
    port: int,
    *,
    llm: LLMDouble | None = None,
    discord: DiscordDouble | None = None,
    channel: str | None = None,
) -> AsyncIterator[Hub]:
    """`goosuke serve` for one document's examples, with a fresh HOME (its data folder is the docs'
    `~/.local/share/goosuke`), pointed at the doubles given; a failed start shows the end of its log."""
    home = tmp_path / "home"
    cwd = tmp_path / "work"  # where a pasted example runs: `.venv/bin/goosuke` is this venv's command
    cwd.mkdir(parents=True)
    (cwd / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = shell_env(home)
    if llm is not None:
        env["OPENAI_API_KEY"] = FAKE_OPENAI_KEY
    serve_env = {**env, **(discord_env(discord) if discord else {})}
    log = tmp_path / "serve.log"
    started = serving(serve_env, port, log=log)
    try:
        await asyncio.to_thread(started.__enter__)
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise AssertionError(f"{exc}\n--- serve.log\n{tail}") from exc
    try:
        token = (home / ".local/share/goosuke/admin.token").read_text().strip()
        state = tmp_path / "state.sh"
        state.write_text(f"export GOOSUKE_TOKEN={token}\n")  # the docs' $GOOSUKE_TOKEN: the first-start token
        places = Places(
            hub=f"127.0.0.1:{port}",
            checkout=cwd,
            data_dir=tmp_path / "client-data",
            llm=llm.base_url if llm else None,
            channel=channel,
        )
        yield Hub(url=f"http://127.0.0.1:{port}", token=token, env=env, cwd=cwd, state=state, places=places, llm=llm)
    finally:
        await asyncio.to_thread(started.__exit__, None, None, None)
