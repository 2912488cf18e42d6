"""Executions as MCP resources: goosuke://executions/{id}. Subscribers get ``resources/updated`` as the
run moves (state changes and new log lines); read the resource again for the latest view."""

from __future__ import annotations

from pydantic import Field

from hub import Call, Plugin
from hub.engine import Engine, ExecutionInfo, LogLine, history

plugin = Plugin("execution-resources")

TAIL = 20  # log lines included in the resource


class ExecutionResource(ExecutionInfo):
    log_tail: list[LogLine] = Field(default_factory=list, description=f"The last {TAIL} lines of the log.")


@plugin.resource("goosuke://executions/{id}", name="execution")
async def execution_resource(call: Call, id: str) -> ExecutionResource:
    """An execution: state, timings, output, usage, error and the tail of its log."""
    engine = call.app.services.get(Engine)
    info = await engine.get(id)
    await history.require_visible(call.app.db, call.principal, info)
    lines, _ = await engine.logs(id, tail=TAIL)
    return ExecutionResource(**info.model_dump(), log_tail=lines)
