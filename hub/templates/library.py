"""The built-in template library (``hub/templates/library/*.yaml``), seeded when the hub starts.

Library templates are stored with ``builtin`` set and are read-only: template_update, template_delete and
template_import_recipe(replace) refuse them for every role; copy one with template_copy, change the copy
and point triggers at it. The hub itself keeps them equal to this release's files: a new release that
changes a file updates the row (version up, audited as ``library``). A template of a library name that is
not built in (a user's, or one changed before built-ins were read-only) is never touched.
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
