"""Deliveries: where results go. Named destinations (a Discord channel or thread, a signed HTTP
callback), the routes templates runs and triggers name, and every delivery recorded.

Service, declared in ``plugin.py``: :class:`~hub.deliveries.service.Deliveries` (needs ``Engine``,
``Vault``, ``Actions``; the ``DiscordService`` is looked up when a post goes out). It listens for finished executions
(``Engine.finished_listeners``): each destination a run's routes pick gets a ``deliveries`` row
before anything is sent, then the send, retried with exponential backoff, each attempt recorded; a
pending row of a dead engine is resumed when a hub starts.

- ``routes.py``: routes (``on: success|failure|always``) as templates, runs and triggers name them (a leaf
  module: the templates' definition imports it);
- ``model.py``: destinations (``discord``, ``http``), the payload;
- ``store.py``: the rows: destinations, per-run routes, deliveries and their attempts;
- ``senders.py``: one attempt: the HMAC-signed POST, the Discord post;
- ``service.py``: the listener, the send loop with backoff, resuming at start-up.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.deliveries.service import Deliveries

__all__ = ["Deliveries"]


def __getattr__(name: str) -> Any:
    """``Deliveries`` is imported when first asked for: ``routes.py`` must load without the engine."""
    if name == "Deliveries":
        from hub.deliveries.service import Deliveries

        return Deliveries
    raise AttributeError(name)
