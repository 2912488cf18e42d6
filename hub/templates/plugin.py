"""The templates' service: the built-in :class:`TemplateLibrary`, seeded at start-up."""

from __future__ import annotations

from hub.context import AppContext
from hub.plugin import Plugin
from hub.templates.library import TemplateLibrary

plugin = Plugin("templates-service")


@plugin.service(TemplateLibrary)
async def template_library(app: AppContext) -> TemplateLibrary:
    library = TemplateLibrary(app.db)
    await library.seed()
    return library
