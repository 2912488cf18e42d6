"""The deliveries' service: :class:`Deliveries`, listening for finished executions while the hub runs."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hub.context import AppContext
from hub.deliveries.service import Deliveries
from hub.engine import Engine
from hub.plugin import Plugin
from hub.triggers.actions import Actions
from hub.vault.service import Vault

plugin = Plugin("deliveries-service")


# DiscordService is looked up when a post is sent: the chat service starts last (tests/kernel/test_services.py)
@plugin.service(Deliveries, needs=[Engine, Vault, Actions])
def deliveries(app: AppContext) -> AbstractAsyncContextManager[Deliveries]:
    return Deliveries(app).running()
