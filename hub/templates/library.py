"""The built-in template library (``hub/templates/library/*.yaml``), seeded when the hub starts.

Seeding is idempotent and never overwrites a user's change: a library template is added once;
a later hub release updates it only while nobody has changed it; a deleted one stays deleted.
Copy one with template_copy to make your own.
"""

from __future__ import annotations

import logging
from importlib import resources

from ruamel.yaml import YAML

from hub.db import Database
from hub.templates import store
from hub.templates.definition import TemplateDefinition, check_definition

logger = logging.getLogger("goosuke.templates")


def library() -> list[TemplateDefinition]:
    """The library's definitions, checked against the recipe rules."""
    yaml = YAML(typ="safe")
    folder = resources.files("hub.templates").joinpath("library")
    definitions = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            definition = TemplateDefinition.model_validate(yaml.load(entry.read_text(encoding="utf-8")))
            check_definition(definition)
            definitions.append(definition)
    return definitions


class TemplateLibrary:
    """The library service (``app.services.get(TemplateLibrary)``): seeded once it starts, so a service
    that needs it (a chat binding that runs ``meeting-summary``) finds its templates in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def names(self) -> list[str]:
        return [d.name for d in library()]

    async def seed(self) -> list[str]:
        """Add the built-in templates on first start (and unchanged ones' updates later)."""
        written = await store.seed_library(self.db, library())
        if written:
            logger.info("Template library: seeded %s", ", ".join(written))
        return written
