"""Core tools: who am I, what is this hub, which settings is it running with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role, __version__, accounts
from hub.clock import UtcDatetime
from hub.plugin import NoArguments

plugin = Plugin("hub")

# Settings never shown by settings_get: they are secret or reveal where secrets live.
SECRET_SETTINGS = {"jwt_secret", "database_url"}


class WhoAmI(BaseModel):
    subject: str = Field(description="User id, `token:<id>` for a token without a user, `local` or `anonymous`.")
    name: str
    role: Role
    via: str = Field(description="jwt, api_token, local (stdio) or anonymous (auth off on loopback).")


class HubInfo(BaseModel):
    name: str = "goosuke"
    version: str
    transport: str = Field(description="How this process is being served: http or stdio.")
    transports: list[str]
    database: str = Field(description="sqlite or postgresql")
    migration: str | None
    started_at: UtcDatetime
    auth: str
    plugins: list[str]
    counts: dict[str, int] = Field(description="Numbers of users, API tokens, tools and resources.")
    services: dict[str, Any] = Field(default_factory=dict, description="Status of optional services.")
    ready: bool = Field(default=True, description="False while a service keeps the hub from working (see not_ready).")
    not_ready: dict[str, str] = Field(
        default_factory=dict, description="The services that are not ready, each with the reason and the fix."
    )


class SettingsView(BaseModel):
    settings: dict[str, Any] = Field(description="Non-secret settings in force; secret ones are left out.")


async def hub_facts(call: Call) -> HubInfo:
    app = call.app
    async with app.db.session() as session:
        users = await accounts.count_users(session)
        tokens = await accounts.count_tokens(session)
    status = app.services.readiness()
    blocked = app.services.not_ready()
    return HubInfo(
        version=__version__,
        transport=app.transport,
        transports=["stdio"] if app.transport == "stdio" else ["streamable_http", "sse", "http_facade"],
        database=app.db.kind,
        migration=await app.db.current_revision(),
        started_at=app.started_at,
        auth="local-owner" if app.transport == "stdio" else app.settings.auth,
        plugins=app.registry.plugins,
        counts={
            "users": users,
            "api_tokens": tokens,
            "tools": len(app.registry.tools),
            "resources": len(app.registry.resources),
        },
        services=status,
        ready=not blocked,
        not_ready=blocked,
    )


@plugin.tool(read_only=True, permission="hub.read")
async def whoami(call: Call, args: NoArguments) -> WhoAmI:
    """Tell who you are to this hub: your name, role and how you authenticated."""
    p = call.principal
    return WhoAmI(subject=p.subject, name=p.name, role=p.role, via=p.via)


@plugin.tool(read_only=True, permission="hub.read")
async def hub_info(call: Call, args: NoArguments) -> HubInfo:
    """Describe this hub: version, transports, database kind, loaded plugins and counts."""
    return await hub_facts(call)


@plugin.tool(permission="hub.settings", read_only=True)
async def settings_get(call: Call, args: NoArguments) -> SettingsView:
    """Show the hub's settings in force, without secret values (signing keys, database URL)."""
    data = call.app.settings.model_dump(mode="json", exclude=SECRET_SETTINGS)
    return SettingsView(settings=data)
