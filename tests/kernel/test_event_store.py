"""The event store replays what a reconnecting Streamable HTTP client missed, and stays bounded."""

from __future__ import annotations

import pytest
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCNotification

from hub.event_store import MemoryEventStore

pytestmark = pytest.mark.anyio


def note(i: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": i})


async def test_replays_events_after_the_last_seen_id_on_that_stream_only() -> None:
    store = MemoryEventStore(per_stream=10)
    ids = [await store.store_event("a", note(i)) for i in range(5)]
    await store.store_event("b", note(99))
    replayed: list[EventMessage] = []

    async def collect(event: EventMessage) -> None:
        replayed.append(event)

    assert await store.replay_events_after(ids[1], collect) == "a"
    assert [e.event_id for e in replayed] == ids[2:]
    assert [e.message.params["progress"] for e in replayed] == [2, 3, 4]  # type: ignore[index]


async def test_priming_events_are_not_replayed_and_unknown_ids_replay_nothing() -> None:
    store = MemoryEventStore()
    first = await store.store_event("a", None)
    await store.store_event("a", note(1))
    seen: list[EventMessage] = []

    async def collect(event: EventMessage) -> None:
        seen.append(event)

    assert await store.replay_events_after("nope", collect) is None
    await store.replay_events_after(first, collect)
    assert len(seen) == 1


async def test_memory_stays_bounded_per_stream_and_in_streams() -> None:
    store = MemoryEventStore(per_stream=3, max_streams=2)
    old = await store.store_event("a", note(0))
    for i in range(1, 10):
        await store.store_event("a", note(i))
    for stream in ("b", "c"):
        await store.store_event(stream, note(0))

    async def ignore(event: EventMessage) -> None:
        pass

    assert await store.replay_events_after(old, ignore) is None
    assert len(store._streams) == 2
    assert all(len(events) <= 3 for events in store._streams.values())
    assert len(store._where) == 2
