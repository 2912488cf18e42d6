"""The triggers' services: :class:`Actions` (every trigger's model), the :class:`Scheduler` and :class:`Webhooks`."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hub.context import AppContext
from hub.engine import Engine
from hub.plugin import Plugin
from hub.triggers.actions import Actions
from hub.triggers.scheduler import Scheduler
from hub.triggers.webhooks import Webhooks
from hub.vault.service import Vault

plugin = Plugin("triggers-service")


@plugin.service(Actions, needs=[Engine])
def actions(app: AppContext) -> Actions:
    return Actions(app)


@plugin.service(Scheduler, needs=[Actions, Engine])
def scheduler(app: AppContext) -> AbstractAsyncContextManager[Scheduler]:
    return Scheduler(app, app.services.get(Actions)).running()


@plugin.service(Webhooks, needs=[Actions, Vault, Engine])
def webhooks(app: AppContext) -> Webhooks:
    return Webhooks(app, app.services.get(Actions), app.services.get(Vault))
