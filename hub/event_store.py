"""A bounded in-memory event store so Streamable HTTP clients resume with ``Last-Event-ID``."""

from __future__ import annotations

from collections import OrderedDict, deque
from itertools import count

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage


class MemoryEventStore(EventStore):
    """Keeps the last ``per_stream`` events of each stream and at most ``max_streams`` streams.

    Memory stays bounded: the oldest stream is forgotten first. Resumption across hub
    replicas needs sticky routing (the sessions themselves are in-process too).
    """

    def __init__(self, per_stream: int = 1000, max_streams: int = 1000) -> None:
        self.per_stream = per_stream
        self.max_streams = max_streams
        self._streams: OrderedDict[StreamId, deque[tuple[EventId, JSONRPCMessage | None]]] = OrderedDict()
        self._where: dict[EventId, StreamId] = {}
        self._ids = count(1)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = f"{stream_id}:{next(self._ids)}"
        events = self._streams.get(stream_id)
        if events is None:
            events = self._streams[stream_id] = deque()
            while len(self._streams) > self.max_streams:
                _, dropped = self._streams.popitem(last=False)
                for old_id, _ in dropped:
                    self._where.pop(old_id, None)
        self._streams.move_to_end(stream_id)
        events.append((event_id, message))
        self._where[event_id] = stream_id
        while len(events) > self.per_stream:
            old_id, _ = events.popleft()
            self._where.pop(old_id, None)
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        stream_id = self._where.get(last_event_id)
        if stream_id is None:
            return None
        seen = False
        for event_id, message in list(self._streams.get(stream_id, ())):
            if seen and message is not None:
                await send_callback(EventMessage(message, event_id))
            if event_id == last_event_id:
                seen = True
        return stream_id
