"""The engine's service: it recovers interrupted runs at start, then claims queued ones until the hub stops."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hub.context import AppContext
from hub.engine.core import Engine
from hub.plugin import Plugin
from hub.vault.service import Vault

plugin = Plugin("engine-service")


@plugin.service(Engine, needs=[Vault])
def engine(app: AppContext) -> AbstractAsyncContextManager[Engine]:
    return Engine(app).running()
