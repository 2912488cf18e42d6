"""The execution engine: templates in, executions out. Agents are found in the registry.

What other domains use::

    from hub.engine import Engine, Trigger

    engine = app.services.get(Engine)
    info = await engine.submit("meeting-summary", {"transcript": text, "channel": "#ops"},
                               trigger=Trigger(kind="discord", actor="ana", ref=message_url),
                               idempotency_key=f"discord:{message_id}")
    info = await engine.wait(info.id, timeout=120)        # ExecutionInfo, final or not
    await engine.cancel(info.id, actor="ana")             # Conflict when already finished
    await engine.retry(info.id, trigger=...)              # a new execution (retry_of=info.id)

Service: :class:`Engine` (needs ``Vault``, to mask secrets in logs and results), declared in
``plugin.py``. Modules: ``core`` (the API), ``queue`` and ``statements`` (rows and claims),
``dispatch`` (claiming), ``history`` (finding executions), ``runner`` (one run), ``active`` (runs in
memory), ``logs``, ``watch`` (waiting for a state), ``process`` (child processes), ``response``
(response schemas), ``agent`` (the agent protocol), ``records`` (the public shapes). Templates are
prepared for a run by ``hub/templates/preview.py``.

Agent authors implement :class:`Agent` (``async def run(run: AgentRun) -> AgentResult``) and use
:func:`run_process` for child processes.
"""

from hub.engine.agent import (
    Agent,
    AgentResult,
    AgentRun,
    CallerBoundAgent,
    HubAccess,
    SecretResolver,
    Usage,
)
from hub.engine.core import Engine
from hub.engine.process import child_environment, run_process, which
from hub.engine.records import FINAL_STATES, ExecutionInfo, LogLine, Status, Trigger, TriggerKind, trigger_of
from hub.templates.preview import CheckingAgent, RunPreview

__all__ = [
    "FINAL_STATES",
    "Agent",
    "AgentResult",
    "AgentRun",
    "CallerBoundAgent",
    "CheckingAgent",
    "Engine",
    "ExecutionInfo",
    "HubAccess",
    "LogLine",
    "RunPreview",
    "SecretResolver",
    "Status",
    "Trigger",
    "TriggerKind",
    "Usage",
    "child_environment",
    "run_process",
    "trigger_of",
    "which",
]
