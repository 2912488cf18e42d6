"""Resource goosuke://extensions/{name}: one extension, as extension_get shows it (only one you may see)."""

from __future__ import annotations

from hub import Call, Plugin
from tools.extensions import ExtensionView, store_of

plugin = Plugin("extensions-resources")


@plugin.resource("goosuke://extensions/{name}", name="extension", permission="extensions.read")
async def extension_resource(call: Call, name: str) -> ExtensionView:
    """An extension's Goose entry, role, team, visibility, state and the tools the hub serves from it."""
    return ExtensionView.of(await store_of(call).get(name, call.principal), call.app)
