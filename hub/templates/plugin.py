"""The templates' services: the render workers (``workers.py``: renders in processes that are killed when
they take too long, stopped with the hub), and the built-in :class:`TemplateLibrary`, seeded at start-up
once the :class:`~hub.runners.service.Runners` have adopted legacy templates' host settings."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hub.context import AppContext
from hub.plugin import Plugin
from hub.runners.service import Runners
from hub.templates.library import TemplateLibrary
from hub.templates.workers import RenderWorkers

plugin = Plugin("templates-service")


@plugin.service(RenderWorkers)
def render_workers(app: AppContext) -> AbstractAsyncContextManager[RenderWorkers]:
    settings = app.settings
    return RenderWorkers(settings.render_workers, settings.render_timeout).running()


@plugin.service(TemplateLibrary, needs=[Runners])
async def template_library(app: AppContext) -> TemplateLibrary:
    library = TemplateLibrary(app.db)
    await library.seed()
    return library
