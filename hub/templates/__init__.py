"""Task templates: their definition (a Goose recipe's shape), rendering, storage and the built-in library.

Service: :class:`~hub.templates.library.TemplateLibrary` (needs only the database), declared in
``plugin.py``; the engine (``hub/engine/``) runs what ``store.py`` keeps.

- ``definition.py``: ``TemplateDefinition``, its parameters and checks, and the sandboxed Jinja
  rendering of prompts;
- ``store.py``: versioned template rows (save, get, list, history, seed);
- ``library.py`` and ``library/*.yaml``: the templates every hub starts with.
"""
