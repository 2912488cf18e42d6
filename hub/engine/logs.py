"""An execution's log: ordered lines, buffered in memory up to a byte limit, flushed in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Execution, ExecutionLogLine, utcnow

TRUNCATION_MARKER = (
    "[goosuke] log truncated: this execution's log reached {limit} bytes; later lines are dropped "
    "(raise GOOSUKE_EXECUTION_LOG_LIMIT to keep more)"
)


@dataclass
class LogWriter:
    """Collects lines for one execution. Memory is bounded by ``limit``: past it, lines are counted
    and dropped, and one marker line says so."""

    execution_id: str
    limit: int
    seq: int = 0
    size: int = 0
    truncated: bool = False
    dropped_bytes: int = 0
    last_line: str | None = None
    pending: list[tuple[int, datetime, str, str]] = field(default_factory=list)

    def write(self, stream: str, text: str) -> None:
        cost = (len(text) if text.isascii() else len(text.encode())) + 1
        if self.truncated:
            self.dropped_bytes += cost
            return
        if self.size + cost > self.limit:
            self.truncated = True
            self.dropped_bytes += cost
            self._append("goosuke", TRUNCATION_MARKER.format(limit=self.limit))
            return
        self.size += cost
        self._append(stream, text)

    def _append(self, stream: str, text: str) -> None:
        self.seq += 1
        self.pending.append((self.seq, utcnow(), stream, text))
        if stream != "goosuke" or not self.truncated:
            self.last_line = text

    @property
    def dirty(self) -> bool:
        return bool(self.pending)

    async def flush(self, session: AsyncSession, **values: object) -> int:
        """Write the pending lines and the counters (and ``values``) in the caller's transaction;
        returns the lines written."""
        lines, self.pending = self.pending, []
        if lines:
            await session.execute(
                insert(ExecutionLogLine),
                [
                    {"execution_id": self.execution_id, "seq": seq, "at": at, "stream": stream, "text": text}
                    for seq, at, stream, text in lines
                ],
            )
        await session.execute(
            update(Execution)
            .where(Execution.id == self.execution_id)
            .values(log_lines=self.seq, log_bytes=self.size, log_truncated=self.truncated, **values)
        )
        return len(lines)
