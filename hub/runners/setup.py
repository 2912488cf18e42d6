"""``goosuke setup``: pick a model provider, check it with one real request, save it as the default runner.

Providers: any OpenAI-compatible endpoint (``openai``, a local ``ollama`` or ``vllm``, or ``compatible``
with its own URL) runs on the ``openai`` agent; ``goose`` runs Goose with its ``openai`` or ``ollama``
provider on such an endpoint. The check is one tiny chat completion ("Reply with OK"), and for ``goose``
first ``goose --version`` of the binary the hub runs (``GOOSUKE_GOOSE_BIN``); nothing is saved when either
fails. On success the key goes into the vault (``RUNNER_<NAME>_API_KEY``), the runner is created
or replaced, and it becomes the default runner (the built-in templates run on it). Both belong to the
hub itself: the ``default`` team, visibility ``team`` (where migration 0013 put everything from before
teams). A runner or secret of that name in another team is refused, before the check; nothing is moved.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import httpx2
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.db import Database
from hub.db.models import RunnerRow, Secret
from hub.engine.process import child_environment, which
from hub.errors import GoosukeError
from hub.runners import store
from hub.runners.model import BUILTIN_RUNNER_NAMES, RunnerDefinition
from hub.settings import Settings
from hub.teams.policy import DEFAULT_TEAM_ID
from hub.templates.definition import NAME_PATTERN
from hub.vault.ownership import team_names
from hub.vault.service import Vault

PROVIDERS = ("openai", "ollama", "vllm", "compatible", "goose")
GOOSE_PROVIDERS = ("openai", "ollama")  # Goose providers on an OpenAI-compatible endpoint (what the check speaks)
BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
}
MODELS = {"openai": "gpt-4o-mini", "ollama": "llama3.2"}
NEEDS_KEY = {"openai"}
CHECK_TIMEOUT = 60.0  # seconds for the one check request (a local model may load first)
MAX_BODY = 64 * 1024  # bytes of the check's answer read
ACTOR = "cli"
GOOSE_VERSION_TIMEOUT = 30.0  # seconds for `goose --version`
GOOSE_INSTALL = (
    "Install Goose (`npm install --prefix DIR @aaif/goose-binary-linux-x64@1.52.0`, or `bash .ci/tools.sh` in a "
    "checkout) and set GOOSUKE_GOOSE_BIN to the binary's path (for setup and for the hub), then run setup again."
)
TEAM, VISIBILITY = DEFAULT_TEAM_ID, "team"  # what setup makes is the hub's own


class SetupUsageError(GoosukeError):
    """Bad flags or answers (exit status 2)."""


class SetupCheckFailed(GoosukeError):
    """The provider refused the check request (exit status 1; nothing was saved)."""


@dataclass
class Choice:
    """What to set up."""

    provider: str
    base_url: str
    model: str
    api_key: str | None
    name: str = "default"
    goose_provider: str | None = None

    @property
    def endpoint(self) -> str:
        """The provider the endpoint is (for defaults): Goose's own provider, else ours."""
        return self.goose_provider or self.provider

    @property
    def secret_name(self) -> str:
        return f"RUNNER_{self.name.upper().replace('-', '_')}_API_KEY"

    def runner(self) -> RunnerDefinition:
        secret = self.secret_name if self.api_key else None
        description = f"Set up by `goosuke setup`: {self.provider} at {self.base_url}."
        if self.provider == "goose":
            return RunnerDefinition(
                name=self.name,
                agent="goose",
                description=description,
                provider=self.goose_provider,
                base_url=self.base_url,
                api_key_secret=secret,
                models=[self.model],
            )
        return RunnerDefinition(
            name=self.name,
            agent="openai",
            description=description,
            base_url=self.base_url,
            api_key_secret=secret,
            models=[self.model],
        )


def _usage(message: str) -> SetupUsageError:
    return SetupUsageError(message)


def check_choice(choice: Choice) -> Choice:
    """Raises:
    SetupUsageError: an unknown provider, a bad URL, a missing model or key, a bad runner name.
    """
    if choice.provider not in PROVIDERS:
        raise _usage(f"--provider {choice.provider!r} is not one of {', '.join(PROVIDERS)}.")
    if choice.provider == "goose" and choice.goose_provider not in GOOSE_PROVIDERS:
        raise _usage(f"--goose-provider must be one of {', '.join(GOOSE_PROVIDERS)} with --provider goose.")
    if choice.provider != "goose" and choice.goose_provider:
        raise _usage("--goose-provider goes with --provider goose only.")
    if not re.match(r"^https?://[^\s/]+", choice.base_url):
        raise _usage(f"--base-url {choice.base_url[:100]!r} is not an http(s) URL, e.g. http://127.0.0.1:11434/v1.")
    if not choice.model:
        raise _usage(f"--model is needed for {choice.endpoint}: the model name the server serves.")
    if choice.endpoint in NEEDS_KEY and not choice.api_key:
        raise _usage("OpenAI needs an API key: pass it on stdin with --api-key-stdin or in GOOSUKE_SETUP_API_KEY.")
    if not re.match(NAME_PATTERN, choice.name) or choice.name in BUILTIN_RUNNER_NAMES:
        raise _usage(
            f"--name {choice.name!r} must be lowercase letters, digits, - and _ and not a built-in runner "
            f"({', '.join(BUILTIN_RUNNER_NAMES)})."
        )
    if choice.api_key is not None and len(choice.api_key) < 4:
        raise _usage("The API key is shorter than 4 characters; check what you pasted.")
    return choice


def from_flags(
    provider: str, base_url: str | None, model: str | None, api_key: str | None, name: str, goose_provider: str | None
) -> Choice:
    endpoint = goose_provider or provider
    if provider == "goose" and goose_provider is None:
        goose_provider = endpoint = "openai"
    url = base_url or BASE_URLS.get(endpoint)
    if url is None:
        raise _usage(f"--base-url is needed for --provider {provider}: the server's OpenAI-compatible URL (…/v1).")
    return check_choice(
        Choice(provider, url.rstrip("/"), model or MODELS.get(endpoint, ""), api_key or None, name, goose_provider)
    )


def interview(ask: Callable[[str, str], str], secret: Callable[[str], str], name: str) -> Choice:
    """The questions of an interactive setup (``ask(question, default)``, ``secret(question)``)."""
    provider = ask(f"Provider ({', '.join(PROVIDERS)})", "ollama").lower()
    if provider not in PROVIDERS:
        raise _usage(f"Provider {provider!r} is not one of {', '.join(PROVIDERS)}.")
    goose_provider = ask(f"Goose provider ({', '.join(GOOSE_PROVIDERS)})", "openai") if provider == "goose" else None
    endpoint = goose_provider or provider
    base_url = ask("Base URL (OpenAI-compatible, ending in /v1)", BASE_URLS.get(endpoint, ""))
    model = ask("Model", MODELS.get(endpoint, ""))
    hint = "" if endpoint in NEEDS_KEY else " (empty for none)"
    api_key = secret(f"API key{hint}: ").strip() or None
    return from_flags(provider, base_url, model, api_key, name, goose_provider)


def _mask(text: str, key: str | None) -> str:
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk|key|api)[-_][A-Za-z0-9_*.-]{6,}", r"\1-***", text)


def _error_detail(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:300].decode("utf-8", "replace").strip() or "no details"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error or data)[:300]


async def check(choice: Choice) -> str:
    """Send the one check request; return the model's answer.

    Raises:
        SetupCheckFailed: unreachable server, an HTTP error (its message, masked) or a broken answer.
    """
    url = f"{choice.base_url}/chat/completions"
    body = {
        "model": choice.model,
        "messages": [{"role": "user", "content": "Reply with OK"}],
        "max_tokens": 5,
        "stream": False,
    }
    headers = {"Authorization": f"Bearer {choice.api_key}"} if choice.api_key else {}
    try:
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(CHECK_TIMEOUT, connect=10.0), trust_env=False) as client,
            client.stream("POST", url, json=body, headers=headers) as response,
        ):
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > MAX_BODY:
                    break
            status = response.status_code
    except httpx2.ConnectError:
        raise SetupCheckFailed(
            f"Cannot reach {choice.base_url} (connection refused or no route). Is the server running? "
            + (f" Start Ollama (`ollama serve`, then `ollama pull {choice.model}`)." if "11434" in url else "")
            + " Check --base-url."
        ) from None
    except httpx2.TimeoutException:
        raise SetupCheckFailed(f"{choice.base_url} did not answer within {CHECK_TIMEOUT:g} s.") from None
    except httpx2.HTTPError as exc:
        raise SetupCheckFailed(f"The request to {choice.base_url} failed ({type(exc).__name__}).") from None
    if status >= 400:
        detail = _mask(_error_detail(bytes(raw)), choice.api_key)
        fix = {
            401: "the API key is wrong or revoked: pass the right one (--api-key-stdin or GOOSUKE_SETUP_API_KEY)",
            403: "the key may not use this model or endpoint",
            404: "check --base-url (it ends in /v1) and --model (the server must serve it)",
        }.get(status, "check --base-url, --model and the key")
        raise SetupCheckFailed(f"The provider at {choice.base_url} answered {status}: {detail}. Fix: {fix}.")
    try:
        data = json.loads(bytes(raw))
        return str(data["choices"][0]["message"].get("content") or "").strip()
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError):
        raise SetupCheckFailed(
            f"{choice.base_url} answered, but not with an OpenAI chat completion; check --base-url (…/v1)."
        ) from None


async def check_goose(settings: Settings) -> str:
    """Run the Goose binary the hub would run (``GOOSUKE_GOOSE_BIN``, found as the goose agent finds it) with
    ``--version``; return what it printed.

    Raises:
        SetupCheckFailed: no such binary, or it does not run (its status and last line, and how to fix it).
    """
    env = child_environment(settings)
    binary = which(settings.goose_bin, env)
    if binary is None:
        raise SetupCheckFailed(f"The Goose binary was not found ({settings.goose_bin!r}). {GOOSE_INSTALL}")
    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
    except OSError as exc:
        raise SetupCheckFailed(f"{binary} cannot be started ({exc.strerror or exc}). {GOOSE_INSTALL}") from None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), GOOSE_VERSION_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SetupCheckFailed(
            f"`{binary} --version` did not finish within {GOOSE_VERSION_TIMEOUT:g} s. {GOOSE_INSTALL}"
        ) from None
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    if process.returncode != 0:
        last = lines[-1][:300] if lines else "no output"
        raise SetupCheckFailed(f"`{binary} --version` exited with status {process.returncode}: {last}. {GOOSE_INSTALL}")
    return lines[-1][:100] if lines else "(no version printed)"


async def exists(db: Database, name: str) -> bool:
    async with db.session() as session:
        return await session.get(RunnerRow, name) is not None


async def check_owner(db: Database, choice: Choice) -> None:
    """Raises:
    SetupUsageError: the runner, or the secret its key goes to, exists in a team other than ``default``
    (setup makes the hub's own default runner; it does not take another team's objects).
    """
    async with db.session() as session:
        owned: list[tuple[str, RunnerRow | Secret | None]] = [
            (f"runner {choice.name!r}", await session.get(RunnerRow, choice.name))
        ]
        if choice.api_key:  # the key is stored only when there is one
            query = select(Secret).where(Secret.scope == "env", Secret.name == choice.secret_name)
            owned.append((f"secret {choice.secret_name!r}", await session.scalar(query)))
        found = [(what, row.team_id) for what, row in owned if row is not None and (row.team_id or TEAM) != TEAM]
        names = await team_names(session, [team for _, team in found])
    if found:
        owners = ", ".join(f"{what} belongs to team {names.get(team or '', team)!r}" for what, team in found)
        raise _usage(
            f"{owners}; `goosuke setup` makes the default team's runner. Pick another --name, or move it to team "
            "default with team_transfer first. Nothing was saved."
        )


async def save(db: Database, settings: Settings, choice: Choice) -> list[str]:
    """Store the key in the vault, create or replace the runner and make it the default; what was done.
    Both are the ``default`` team's, visibility ``team``.

    Raises:
        SetupUsageError: either exists in another team (:func:`check_owner`); nothing is saved then.
    """
    await check_owner(db, choice)
    done: list[str] = []
    definition = choice.runner()
    if choice.api_key:
        vault = Vault(db, settings)
        await vault.start()
        await vault.put(
            choice.secret_name,
            choice.api_key,
            actor=ACTOR,
            description=f"API key of runner {choice.name} (goosuke setup)",
            team_id=TEAM,
            visibility=VISIBILITY,
        )
        done.append(f"stored the API key in the vault as secret {choice.secret_name} (team {TEAM})")
    try:
        async with db.session() as session:
            if await session.get(RunnerRow, choice.name) is None:
                await store.create(session, definition, ACTOR, make_default=True, team_id=TEAM, visibility=VISIBILITY)
                done.append(f"created runner {choice.name} ({definition.agent} agent, model {choice.model})")
            else:
                await store.replace(session, definition, ACTOR, make_default=True, sharing=(TEAM, VISIBILITY))
                done.append(f"replaced runner {choice.name} ({definition.agent} agent, model {choice.model})")
    except SQLAlchemyError as exc:
        raise GoosukeError(f"Could not save the runner ({type(exc).__name__}); run `goosuke migrate` first.") from exc
    done.append(f"made {choice.name} the default runner: templates without a runner or an agent run on it")
    return done


def prompter(stdin: TextIO, stdout: TextIO) -> tuple[Callable[[str, str], str], Callable[[str], str]]:
    """``ask`` and ``secret`` on the given streams (a key is not echoed on a terminal)."""

    def read(prompt: str) -> str:
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if not line:
            raise _usage("The answers ended early (stdin closed); answer every question or use the flags.")
        return line.rstrip("\n")

    def ask(question: str, default: str) -> str:
        answer = read(f"{question}{f' [{default}]' if default else ''}: ").strip()
        return answer or default

    def secret(question: str) -> str:
        if stdin is sys.stdin and stdin.isatty():
            return getpass.getpass(question)
        return read(question)

    return ask, secret
