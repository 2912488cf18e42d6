"""Core tools: who am I, what is this hub, which settings is it running with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from hub import Call, Plugin, Role, __version__, accounts
from hub.clock import UtcDatetime
from hub.db.models import Team, TeamMember
from hub.metrics import WINDOW_MINUTES, ToolFigures
from hub.plugin import NoArguments

plugin = Plugin("hub")

# Settings never shown by settings_get: they are secret or reveal where secrets live.
SECRET_SETTINGS = {"jwt_secret", "database_url"}


class TeamGrant(BaseModel):
    id: str
    name: str
    role: str | None = Field(description="Your team role there; null when the access comes from a hub-wide role.")
    permissions: list[str] = Field(description="What you may do in that team (hub-wide permissions included).")


class WhoAmI(BaseModel):
    subject: str = Field(description="User id, `token:<id>` for a token without a user, `local` or `anonymous`.")
    name: str
    role: Role = Field(description="The built-in role nearest to what you hold (decisions read the permissions).")
    via: str = Field(description="jwt, api_token, local (stdio) or anonymous (auth off on loopback).")
    platform_role: str = Field(default="", description="Your hub-wide role as stored: built-in or custom.")
    permissions: list[str] = Field(default_factory=list, description="Permissions you hold hub-wide (every team).")
    teams: list[TeamGrant] = Field(default_factory=list, description="The teams you hold permissions in.")
    home_team: str | None = Field(default=None, description="The team your new objects go to unless you name one.")
    tool_patterns: list[str] | None = Field(
        default=None, description="The tools this token may call (wildcards); null: any."
    )


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


class ToolStats(BaseModel):
    tool: str = Field(description="The tool's name; `*` for all tools together.")
    calls: int = Field(description="Calls since the hub started.")
    errors: int = Field(description="Calls whose outcome was not ok (error, denied, invalid arguments).")
    error_rate: float = Field(description="errors / calls (0 without calls).")
    p50_ms: float | None = Field(description="Median latency in ms, interpolated in the histogram's buckets.")
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, figures: ToolFigures) -> ToolStats:
        def ms(q: float) -> float | None:
            value = figures.quantiles[q]
            return None if value is None else round(value * 1000, 3)

        rate = figures.errors / figures.calls if figures.calls else 0.0
        return cls(
            tool=figures.tool,
            calls=figures.calls,
            errors=figures.errors,
            error_rate=round(rate, 4),
            p50_ms=ms(0.5),
            p95_ms=ms(0.95),
            p99_ms=ms(0.99),
        )


class MinuteCalls(BaseModel):
    minute: UtcDatetime = Field(description="The minute's start.")
    calls: int
    errors: int


class HubMetrics(BaseModel):
    started_at: UtcDatetime = Field(description="Since when the counts run (this process's start).")
    per_minute: list[MinuteCalls] = Field(
        description=f"Tool calls in each of the last {WINDOW_MINUTES} minutes, oldest first (this process only)."
    )
    total: ToolStats = Field(description="All tools together.")
    tools: list[ToolStats] = Field(description="Each tool called since the start, the most called first.")


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
    """Tell who you are to this hub: your name, role, how you authenticated, and what you may do: your
    hub-wide permissions, your teams (with your role and permissions in each) and your token's tool patterns."""
    p = call.principal
    grants = p.grants
    team_ids = sorted(set(grants.teams) | ({p.team} if p.team else set()))
    async with call.app.db.session() as session:
        names = dict((await session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))).tuples().all())
        roles = dict(
            (
                await session.execute(
                    select(TeamMember.team_id, TeamMember.role).where(
                        TeamMember.user_id == p.subject, TeamMember.team_id.in_(team_ids)
                    )
                )
            )
            .tuples()
            .all()
        )
    teams = [
        TeamGrant(
            id=team_id,
            name=names.get(team_id, team_id),
            role=roles.get(team_id),
            permissions=sorted(grants.teams[team_id] | grants.platform),
        )
        for team_id in sorted(grants.teams, key=lambda t: names.get(t, t))
    ]
    return WhoAmI(
        subject=p.subject,
        name=p.name,
        role=p.role,
        via=p.via,
        platform_role=p.role_name,
        permissions=sorted(grants.platform),
        teams=teams,
        home_team=names.get(p.team, p.team) if p.team else None,
        tool_patterns=list(grants.tool_patterns) if grants.tool_patterns is not None else None,
    )


@plugin.tool(read_only=True, permission="hub.read")
async def hub_info(call: Call, args: NoArguments) -> HubInfo:
    """Describe this hub: version, transports, database kind, loaded plugins and counts."""
    return await hub_facts(call)


@plugin.tool(read_only=True, permission="hub.read")
async def hub_metrics(call: Call, args: NoArguments) -> HubMetrics:
    """Tool calls of this hub process: calls per minute over the last hour, and per tool the calls, the error
    rate and the latency percentiles (p50, p95, p99) since the start. The same counts as /metrics."""
    metrics = call.app.metrics
    tools, total = metrics.tool_summary()
    minutes = [
        MinuteCalls(minute=datetime.fromtimestamp(m.at, UTC), calls=m.calls, errors=m.errors)
        for m in metrics.per_minute.window()
    ]
    return HubMetrics(
        started_at=call.app.started_at,
        per_minute=minutes,
        total=ToolStats.of(total),
        tools=[ToolStats.of(t) for t in tools],
    )


@plugin.tool(permission="hub.settings", read_only=True)
async def settings_get(call: Call, args: NoArguments) -> SettingsView:
    """Show the hub's settings in force, without secret values (signing keys, database URL)."""
    data = call.app.settings.model_dump(mode="json", exclude=SECRET_SETTINGS)
    return SettingsView(settings=data)
