"""A run in progress in this engine: its log writer, cancel scope, pid, token and claimed row."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from hub.db.models import Execution
from hub.engine.agent import HubAccess
from hub.engine.logs import LogWriter
from hub.engine.records import ExecutionInfo


@dataclass
class Active:
    """A run in progress in this engine."""

    id: str
    writer: LogWriter
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    flush_lock: anyio.Lock = field(default_factory=anyio.Lock)
    reason: str | None = None
    stopped_by: str | None = None
    token_id: str | None = None
    access: HubAccess | None = None
    pid: int | None = None
    pid_start: str | None = None
    pid_pending: bool = False  # the pid is not in the row yet (the next flush writes it)
    row: Execution | None = None  # the claimed row: this engine owns it until the run ends

    def view(self) -> ExecutionInfo | None:
        """The run as readers see it, from memory (the engine holding a run is the one that changes it)."""
        if self.row is None:
            return None
        writer = self.writer
        return ExecutionInfo.of(self.row).model_copy(
            update={"log_lines": writer.seq, "log_bytes": writer.size, "log_truncated": writer.truncated}
        )

    @property
    def dirty(self) -> bool:
        return self.writer.dirty or self.pid_pending

    def stop(self, reason: str, by: str | None = None) -> None:
        """Cancel the run (its process group is killed); ``reason`` becomes its final state."""
        if self.reason is None:
            self.reason, self.stopped_by = reason, by
        if reason == "cancelled" and self.row is not None:  # the row says so too: keep the view in step
            self.row.cancel_requested = True
        self.scope.cancel()
