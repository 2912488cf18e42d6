"""Waiting for executions: who waits for what, and the final views of recently finished runs.

A finished execution never changes again, so its final view is kept (a bounded LRU) and handed to
waiters and readers without another database read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

import anyio

from hub.engine.records import ExecutionInfo

FINAL_CACHE = 2000  # final views kept in memory


class Watch:
    def __init__(self) -> None:
        self._progress: dict[str, set[anyio.Event]] = {}  # wake on every change (progress notifications)
        self._final: dict[str, set[anyio.Event]] = {}  # wake only when the run ends
        self._finished: OrderedDict[str, ExecutionInfo] = OrderedDict()

    def changed(self, execution_id: str, *, final: bool) -> None:
        for event in self._progress.get(execution_id, ()):
            event.set()
        if final:
            for event in self._final.get(execution_id, ()):
                event.set()

    def remember(self, info: ExecutionInfo) -> None:
        """Keep the final view of a run this engine finished."""
        self._finished[info.id] = info
        self._finished.move_to_end(info.id)
        while len(self._finished) > FINAL_CACHE:
            self._finished.popitem(last=False)

    def finished(self, execution_id: str) -> ExecutionInfo | None:
        return self._finished.get(execution_id)

    async def wait(
        self,
        execution_id: str,
        read: Callable[[str], Awaitable[ExecutionInfo]],
        timeout: float,
        poll: float,
        on_change: Callable[[ExecutionInfo], Awaitable[None]] | None,
    ) -> ExecutionInfo:
        """Read again when woken (or every ``poll`` seconds: the run may be on another hub)."""
        deadline = anyio.current_time() + timeout
        table = self._progress if on_change is not None else self._final
        watchers = table.setdefault(execution_id, set())
        event = anyio.Event()
        watchers.add(event)
        try:
            info = await read(execution_id)
            seen = (info.status, info.log_lines)
            while not info.final:
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    break
                with anyio.move_on_after(min(remaining, poll)):
                    await event.wait()
                watchers.discard(event)
                event = anyio.Event()
                watchers.add(event)
                info = await read(execution_id)
                if on_change is not None and (info.status, info.log_lines) != seen:
                    seen = (info.status, info.log_lines)
                    await on_change(info)
            return info
        finally:
            watchers.discard(event)
            if not watchers:
                table.pop(execution_id, None)
