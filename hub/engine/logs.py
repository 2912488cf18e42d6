"""An execution's log: ordered lines, buffered in memory up to a byte limit, flushed in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.db.models import utcnow

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

    def take(self) -> list[dict[str, object]]:
        """The pending lines as rows for ``INSERT_LOG_LINES`` (the buffer is emptied)."""
        lines, self.pending = self.pending, []
        return [
            {"execution_id": self.execution_id, "seq": seq, "at": at, "stream": stream, "text": text}
            for seq, at, stream, text in lines
        ]

    def counters(self) -> dict[str, object]:
        """Bind values of the log counters for the engine's UPDATE statements."""
        return {"b_log_lines": self.seq, "b_log_bytes": self.size, "b_log_truncated": self.truncated}
