"""Resource goosuke://hub/info: the same facts as the hub_info tool."""

from __future__ import annotations

from hub import Call, Plugin
from tools.hub import HubInfo, hub_facts

plugin = Plugin("hub-resources")


@plugin.resource("goosuke://hub/info", name="hub-info")
async def hub_info_resource(call: Call) -> HubInfo:
    """Version, transports, database kind, plugins and counts of this hub."""
    return await hub_facts(call)
