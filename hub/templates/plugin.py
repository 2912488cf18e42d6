"""The templates' service: the built-in :class:`TemplateLibrary`, seeded at start-up once the
:class:`~hub.runners.service.Runners` have adopted legacy templates' host settings."""

from __future__ import annotations

from hub.context import AppContext
from hub.plugin import Plugin
from hub.runners.service import Runners
from hub.templates.library import TemplateLibrary

plugin = Plugin("templates-service")


@plugin.service(TemplateLibrary, needs=[Runners])
async def template_library(app: AppContext) -> TemplateLibrary:
    library = TemplateLibrary(app.db)
    await library.seed()
    return library
