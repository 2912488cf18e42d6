"""Task templates: their definition (a Goose recipe's shape), rendering, storage and the built-in library.

Services: :class:`~hub.templates.library.TemplateLibrary` (needs only the database) and
:class:`~hub.templates.workers.RenderWorkers` (the render worker processes), declared in ``plugin.py``;
the engine (``hub/engine/``) runs what ``store.py`` keeps, prepared by ``preview.py``.

- ``definition.py``: ``TemplateDefinition``, its parameters and checks, and the sandboxed Jinja
  rendering of prompts;
- ``rendering.py``, ``sandbox.py``: the bounded Jinja sandbox; ``workers.py`` and ``render_worker.py``:
  rendering in worker processes that are killed past ``GOOSUKE_RENDER_TIMEOUT``;
- ``store.py``: versioned template rows (save, get, list, history, seed);
- ``preview.py``: a template prepared for a run (``RunPreview``) and the agents' checks on save;
- ``recipes.py``: Goose recipes in and out (uses the extensions' Goose schema, ``hub/extensions/``);
- ``library.py`` and ``library/*.yaml``: the templates every hub starts with.
"""
