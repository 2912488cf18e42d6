"""The ``goose`` agent: runs the real Goose CLI headless on the rendered template.

Each run gets a throw-away HOME/XDG folder (Goose never touches a real user's config or keyring)
and a recipe file holding the rendered prompt and instructions (inside ``{% raw %}`` so Goose does
not render them a second time) and the run's extensions. A recipe that lists extensions loads only
those: Goose's own shell and editor tools stay out of unattended runs. The hub itself is the
``goosuke`` extension (Streamable HTTP with ``Authorization: Bearer ${GOOSUKE_TOKEN}``, a token
minted for this run only). ``--output-format stream-json`` events become log lines; the last
assistant message is the output; a provider failure Goose reports as text with exit status 0 is
recognised and the run marked failed.

Settings: ``GOOSUKE_GOOSE_BIN``, ``GOOSUKE_GOOSE_PROVIDER``, ``GOOSUKE_GOOSE_MODEL``,
``GOOSUKE_GOOSE_ENV`` (the provider's environment as JSON, e.g. ``{"OPENAI_HOST": ...}``) and
``GOOSUKE_GOOSE_MAX_TURNS``; the template's runner sets the provider, models, allowed built-ins and
extensions, the template a model among the runner's and max_turns. A run gets only the template's
extensions that are enabled, that its role may use and that its runner allows (else it fails, naming them).
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hub import AgentRunError, AppContext, Plugin
from hub.engine import AgentResult, AgentRun, Usage, child_environment, run_process, which
from hub.engine.process import MAX_LINE
from hub.extensions.schema import DEFAULT_EXTENSION_TIMEOUT, GOOSE_BUILTINS, HUB_EXTENSION, hub_extension
from hub.extensions.store import ExtensionStore
from hub.runners import access as run_access
from hub.vault.ownership import runner_secret
from hub.vault.service import Vault

plugin = Plugin("agent-goose")

# Goose's built-in extensions a template may name directly.
# How Goose words a failure it prints as an ordinary assistant message (exit status 0).
PROVIDER_FAILURE = re.compile(
    r"^\s*(Ran into this error|Error\b|Request failed|Authentication (error|failed)|Rate limit|"
    r"Context length exceeded|Server error|No provider)",
    re.IGNORECASE,
)
RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")
INSTALL_HINT = (
    "Install it (`npm install --prefix DIR @aaif/goose-binary-linux-x64@1.52.0`, or `bash .ci/tools.sh` in a "
    "checkout) and set GOOSUKE_GOOSE_BIN to the binary's path."
)


def raw(text: str) -> str:
    """Jinja-escape already rendered text for a Goose recipe (Goose renders recipes again)."""
    parts = RAW_END.split(text)
    ends = RAW_END.findall(text)
    out = "{% raw %}" + parts[0]
    for end, part in zip(ends, parts[1:], strict=True):
        out += '{% endraw %}{{ "' + end + '" }}{% raw %}' + part
    return out + "{% endraw %}"


@dataclass
class _Message:
    role: str
    inferred: bool
    text: str = ""


@dataclass
class StreamParser:
    """Turns Goose's stream-json lines into log lines, the final text, usage and errors. Memory stays
    bounded: only the newest message is kept, its text cut at ``limit`` characters."""

    log: Any
    limit: int = 200_000
    final: _Message | None = None  # the newest assistant message with text
    errors: list[str] = field(default_factory=list)
    usage: Usage | None = None
    _current_id: str | None = None
    _current: _Message | None = None
    _pending: str = ""

    def feed(self, line: str) -> None:
        if not line.strip():
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            self.log("stdout", line)
            return
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message":
            self._message(event.get("message") or {})
        elif kind == "notification":
            note = event.get("log") or event.get("progress") or {}
            self.log("agent", f"[{event.get('extension_id', '?')}] {note.get('message', note)}")
        elif kind == "error":
            self._flush()
            self.errors = [*self.errors[-9:], str(event.get("error"))]
            self.log("agent", f"error: {event.get('error')}")
        elif kind == "complete":
            self._flush()
            self.usage = Usage(
                input_tokens=event.get("input_tokens"),
                output_tokens=event.get("output_tokens"),
                total_tokens=event.get("total_tokens"),
                cost_usd=event.get("cost_usd"),
            )
        else:
            self.log("agent", line[:2000])

    def _message(self, message: dict[str, Any]) -> None:
        ident = str(message.get("id"))
        current = self._current
        if current is None or ident != self._current_id:
            self._flush()
            inferred = bool((message.get("metadata") or {}).get("inference"))
            current = self._current = _Message(str(message.get("role")), inferred)
            self._current_id = ident
        for item in message.get("content") or []:
            kind = item.get("type")
            if kind == "text":
                piece = item.get("text", "")
                current.text += piece[: max(0, self.limit - len(current.text))]
                if current.role == "assistant":
                    self._stream(piece)
                    if current.text.strip():
                        self.final = current
            elif kind == "toolRequest":
                self._flush()
                call = (item.get("toolCall") or {}).get("value") or {}
                args = json.dumps(call.get("arguments", {}))
                self.log("agent", f"tool call {call.get('name')} {args[:1000]}")
            elif kind == "toolResponse":
                self._flush()
                result = item.get("toolResult") or {}
                value = result.get("value") or {}
                texts = [c.get("text", "") for c in value.get("content", []) if isinstance(c, dict)]
                status = "error" if value.get("isError") or result.get("status") == "error" else "ok"
                self.log("agent", f"tool result ({status}) {' '.join(texts)[:1000]}")
            elif kind == "error":
                self._flush()
                self.errors = [*self.errors[-9:], str(item.get("message") or item)]
                self.log("agent", f"error: {item.get('message') or item}")

    def _stream(self, piece: str) -> None:
        self._pending += piece
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self.log("assistant", line)
        while len(self._pending) > MAX_LINE:  # a line that never ends is logged in pieces
            self.log("assistant", self._pending[:MAX_LINE])
            self._pending = self._pending[MAX_LINE:]

    def _flush(self) -> None:
        if self._pending:
            self.log("assistant", self._pending)
            self._pending = ""

    def close(self) -> None:
        self._flush()

    def failure(self) -> str | None:
        """The provider failure Goose reported (as an error event, or as text it wrote itself)."""
        if self.errors:
            return self.errors[-1]
        final = self.final
        if final is not None and not final.inferred and PROVIDER_FAILURE.search(final.text):
            return final.text.strip()
        return None


class GooseAgent:
    """Runs ``goose run`` on a recipe written for the execution."""

    async def run(self, run: AgentRun) -> AgentResult:
        settings = run.settings
        base = child_environment(settings)
        binary = which(settings.goose_bin, base)
        if binary is None:
            raise AgentRunError(f"The Goose binary was not found ({settings.goose_bin!r}). {INSTALL_HINT}")
        env = self._environment(run, base)
        await self._endpoint(run, env)
        extensions = await self._extensions(run, env)
        recipe: dict[str, Any] = {
            "version": "1.0.0",
            "title": run.template,
            "description": f"Execution {run.execution_id} of template {run.template} v{run.template_version}",
            "prompt": raw(run.prompt),
            "extensions": extensions,
        }
        if run.instructions:
            recipe["instructions"] = raw(run.instructions)
        if run.options.response_schema is not None:  # Goose then ends with its final_output tool
            recipe["response"] = {"json_schema": run.options.response_schema}
        path = run.workdir / "recipe.yaml"
        path.write_text(json.dumps(recipe, ensure_ascii=False))  # JSON is YAML: no quoting surprises
        max_turns = run.options.max_turns or settings.goose_max_turns
        argv = [binary, "run", "-q", "--no-session", "--output-format", "stream-json"]
        argv += ["--recipe", str(path), "--max-turns", str(max_turns)]
        run.log(
            "goosuke",
            f"goose run with provider {env.get('GOOSE_PROVIDER')}, model {env.get('GOOSE_MODEL')}, "
            f"extensions {[e['name'] for e in extensions]}",
        )
        parser = StreamParser(run.log, limit=run.output_limit)
        stderr_tail: deque[str] = deque(maxlen=5)

        def on_stderr(line: str) -> None:
            if line.strip():
                stderr_tail.append(line.strip())
            run.log("stderr", line)

        outcome = await run_process(
            argv,
            env=env,
            cwd=run.workdir,
            stdin=None,
            on_stdout=parser.feed,
            on_stderr=on_stderr,
            kill_grace=settings.execution_kill_grace,
            on_start=run.process_started,
        )
        parser.close()
        final = parser.final
        output = final.text.strip() if final is not None else ""
        usage = parser.usage
        if usage is not None:
            usage.model = env.get("GOOSE_MODEL")
        if outcome.returncode != 0:
            detail = stderr_tail[-1] if stderr_tail else "no message on stderr"
            return AgentResult(
                output=output,
                usage=usage,
                exit_code=outcome.returncode,
                failed=True,
                error=f"Goose exited with status {outcome.returncode}: {detail}",
            )
        failure = parser.failure()
        if failure is not None:
            return AgentResult(
                output=output,
                usage=usage,
                exit_code=0,
                failed=True,
                error=f"Goose exited 0 but its provider failed: {failure[:2000]}",
            )
        return AgentResult(output=output, usage=usage, exit_code=0)

    def _environment(self, run: AgentRun, base: dict[str, str]) -> dict[str, str]:
        settings = run.settings
        home = run.workdir / "home"
        for sub in (".config", ".local/share", ".local/state", ".cache"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in base.items() if not k.startswith(("GOOSE_", "OPENAI_"))}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_STATE_HOME=str(home / ".local/state"),
            XDG_CACHE_HOME=str(home / ".cache"),
            GOOSE_DISABLE_KEYRING="1",
            GOOSE_MODE="auto",
            GOOSE_TELEMETRY_ENABLED="false",
        )
        env.update(settings.goose_env)
        provider = run.options.provider or settings.goose_provider or env.get("GOOSE_PROVIDER")
        model = run.options.model or settings.goose_model or env.get("GOOSE_MODEL")
        if not provider or not model:
            raise AgentRunError(
                "Goose has no provider or model for this run. Set GOOSUKE_GOOSE_PROVIDER and GOOSUKE_GOOSE_MODEL "
                "(and the provider's variables in GOOSUKE_GOOSE_ENV, e.g. OPENAI_HOST), or a runner with a provider "
                "and models (runner_create) that the template names."
            )
        env.update(GOOSE_PROVIDER=provider, GOOSE_MODEL=model)
        return env

    async def _endpoint(self, run: AgentRun, env: dict[str, str]) -> None:
        """A runner's ``base_url`` and ``api_key_secret`` as its provider's variables: ``openai`` gets
        OPENAI_HOST, OPENAI_BASE_PATH and OPENAI_API_KEY; ``ollama`` OLLAMA_HOST; another provider
        ``<PROVIDER>_HOST`` and ``<PROVIDER>_API_KEY``."""
        provider = env["GOOSE_PROVIDER"]
        prefix = re.sub(r"[^A-Z0-9]", "_", provider.upper())
        if run.options.base_url:
            url = run.options.base_url.rstrip("/")
            if provider == "openai":
                parts = urlsplit(url)
                env["OPENAI_HOST"] = f"{parts.scheme}://{parts.netloc}"
                env["OPENAI_BASE_PATH"] = f"{parts.path.strip('/')}/chat/completions".lstrip("/")
            else:
                env[f"{prefix}_HOST"] = url.removesuffix("/v1") if provider == "ollama" else url
        if run.options.api_key_secret:
            vault = run.app.services.find(Vault)
            if vault is None:
                raise AgentRunError(
                    f"Runner {run.options.runner!r} names the secret {run.options.api_key_secret!r}, but this hub "
                    "has no secrets vault."
                )
            env[f"{prefix}_API_KEY"] = await runner_secret(
                run.app, vault, run.options.runner, run.options.api_key_secret
            )

    async def _extensions(self, run: AgentRun, env: dict[str, str]) -> list[dict[str, Any]]:
        await run_access.check(
            run.extensions, run.role, run.options, run.app.services.find(ExtensionStore), run.team, run.created_by
        )
        entries: list[dict[str, Any]] = []
        for name in run.extensions:
            if name == HUB_EXTENSION:
                access = await run.hub_access()
                env["GOOSUKE_TOKEN"] = access.token
                entries.append(hub_extension(access.url))
                continue
            stored = await _stored_extension(run.app, name)
            if stored is not None:
                entry, extra_env = stored
                env.update(extra_env)
                entries.append(entry)
                continue
            if name not in GOOSE_BUILTINS:
                raise AgentRunError(
                    f"The template needs the extension {name!r}, which this hub does not know. Add it to the "
                    f"hub, use a Goose built-in ({', '.join(sorted(GOOSE_BUILTINS))}) or `goosuke`, or remove it "
                    "from the template's extensions."
                )
            entries.append({"type": "builtin", "name": name, "timeout": DEFAULT_EXTENSION_TIMEOUT})
        return entries


async def _stored_extension(app: AppContext, name: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """An extension from the hub's :class:`ExtensionStore` as a recipe entry, with the environment its
    ``env_keys`` need (their values come from the vault)."""
    store = app.services.find(ExtensionStore)
    if store is None or await store.find(name) is None:
        return None
    config, env = await store.launch_spec(name)
    entry = config.model_dump(mode="json", exclude_none=True)
    entry.pop("enabled", None)
    inline = entry.get("envs") or {}
    return entry, {k: v for k, v in env.items() if k not in inline}


plugin.provide("agent", "goose", GooseAgent())
