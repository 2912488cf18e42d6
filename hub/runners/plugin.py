"""The runners' service, :class:`Runners` (needs only the database), and the ``goosuke setup`` command."""

from __future__ import annotations

from hub.context import AppContext
from hub.plugin import Plugin
from hub.runners.cli import configure, run_setup
from hub.runners.migration import adopt_legacy
from hub.runners.service import Runners

plugin = Plugin("runners-service")


@plugin.service(Runners)
async def runners(app: AppContext) -> Runners:
    """Runners, after moving legacy templates' host settings onto runners (idempotent; see ``migration``)."""
    await adopt_legacy(app.db)
    return Runners(app.db)


plugin.command(
    "setup",
    help="pick a model provider, check it with one request, save it as the default runner",
    configure=configure,
)(run_setup)
