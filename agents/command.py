"""The ``command`` agent: any program as an agent. The rendered prompt goes to its stdin, its stdout
is the output (a JSON object on stdout is also kept as structured output), stderr goes to the log.

The program is the runner's ``argv`` (an admin's ``runner_create``), e.g. ``["python3", "my_agent.py"]``;
no shell is involved; a template names the runner. The process gets ``GOOSUKE_EXECUTION_ID``,
``GOOSUKE_TEMPLATE``, ``GOOSUKE_PARAMS`` (JSON),
``GOOSUKE_INSTRUCTIONS`` when the template has some, and ``GOOSUKE_URL`` + ``GOOSUKE_TOKEN`` when the
template lists the ``goosuke`` extension.
"""

from __future__ import annotations

import json

from hub import AgentRunError, InvalidArguments, Plugin
from hub.engine import AgentResult, AgentRun, child_environment, run_process
from hub.templates.definition import TemplateDefinition

plugin = Plugin("agent-command")


class OutputBuffer:
    """Keeps the first ``limit`` characters of the output lines; counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def add(self, line: str) -> None:
        if self.size >= self.limit:
            self.truncated = True
            return
        piece = line[: self.limit - self.size]
        self.truncated = self.truncated or len(piece) < len(line)
        self.parts.append(piece)
        self.size += len(piece) + 1

    def text(self) -> str:
        return "\n".join(self.parts)


class CommandAgent:
    """Runs the runner's ``argv`` with the prompt on stdin."""

    def check(self, definition: TemplateDefinition) -> None:
        if not definition.runner:
            raise InvalidArguments(
                "The command agent runs the program of a runner: name one in `runner` (runner_list), or ask an "
                "admin to create one with runner_create.",
                errors=[{"field": "runner", "message": "required for the command agent", "type": "missing"}],
            )

    async def run(self, run: AgentRun) -> AgentResult:
        argv = run.options.argv
        if not argv or not argv[0].strip():
            raise AgentRunError(
                f"Runner {run.options.runner!r} has no argv; an admin sets it with runner_update "
                '(e.g. ["python3", "agent.py"]).'
            )
        extra = {
            "GOOSUKE_EXECUTION_ID": run.execution_id,
            "GOOSUKE_TEMPLATE": run.template,
            "GOOSUKE_PARAMS": json.dumps(run.params),
        }
        if run.instructions:
            extra["GOOSUKE_INSTRUCTIONS"] = run.instructions
        if "goosuke" in run.extensions:
            access = await run.hub_access()
            extra.update(GOOSUKE_URL=access.url, GOOSUKE_TOKEN=access.token)
        output = OutputBuffer(run.output_limit)

        def on_stdout(line: str) -> None:
            output.add(line)
            run.log("stdout", line)

        outcome = await run_process(
            list(argv),
            env=child_environment(run.settings, extra),
            cwd=run.workdir,
            stdin=run.prompt.encode(),
            on_stdout=on_stdout,
            on_stderr=lambda line: run.log("stderr", line),
            kill_grace=run.settings.execution_kill_grace,
            on_start=run.process_started,
        )
        text = output.text()
        structured = None
        if not output.truncated and text.lstrip().startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
            structured = parsed if isinstance(parsed, dict) else None
        if output.truncated:
            text += f"\n[goosuke] output truncated at {run.output_limit} characters"
        if outcome.returncode != 0:
            return AgentResult(
                output=text,
                exit_code=outcome.returncode,
                failed=True,
                error=f"{argv[0]} exited with status {outcome.returncode}; its stderr is in the log.",
            )
        return AgentResult(output=text, structured=structured, exit_code=0)


plugin.provide("agent", "command", CommandAgent())
