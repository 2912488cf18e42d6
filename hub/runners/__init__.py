"""Runners: admins decide what can run, operators decide what to ask.

A runner is an admin-defined, named grant: an agent kind plus everything of a run that reaches the host
or the network (a command's argv, an OpenAI-compatible base URL and its key's vault secret, Goose's
provider, models, allowed built-ins and extensions, a timeout bound). Templates name a runner and set
only harmless knobs; the engine joins the two when it prepares a run.

Service: :class:`~hub.runners.service.Runners` (needs only the database), declared in ``plugin.py``.

- ``model.py``: ``RunnerDefinition``, the built-in runners, ``RunOptions`` and ``effective``;
- ``store.py``: runner rows, audited; adopting an admin's inline settings as a runner;
- ``access.py``: which extensions a run may get;
- ``migration.py``: migration 0007's adoption of legacy templates' host settings.
"""
