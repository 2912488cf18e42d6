"""A catalog of well-known MCP servers (official MCP Registry server.json format): search it, install an
entry as a Goose extension, or get recommendations for a task."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role
from hub.catalog import entries as _catalog
from hub.catalog import ranking as _ranking
from hub.catalog import refinement as _recommend
from hub.errors import Conflict, InvalidArguments, NotFound
from hub.extensions.schema import name_to_key, parse_config
from hub.plugin import Arguments
from hub.teams.service import placed_in
from tools.extensions import TEAM, VISIBILITY_HELP, ExtensionChanged, Visibility, changed, store_of
from tools.secrets import vault_of

plugin = Plugin("catalog")
logger = logging.getLogger("goosuke.catalog")


class EnvView(BaseModel):
    name: str
    secret: bool
    required: bool
    description: str | None


class CatalogEntry(BaseModel):
    name: str = Field(description="The registry name, e.g. io.github.modelcontextprotocol/server-filesystem.")
    short_name: str = Field(description="The extension name it installs as by default.")
    title: str | None
    description: str
    version: str
    packages: list[str] = Field(description="How it runs: npm:..., pypi:..., oci:...")
    remote: str | None = Field(description="Its streamable-http endpoint, if it offers one.")
    env: list[EnvView] = Field(description="Environment variables it takes; secret ones go to the vault.")
    source: str = Field(description="catalog (shipped) or registry (GOOSUKE_REGISTRY_URL).")
    installed: bool

    @classmethod
    def of(cls, entry: _catalog.ServerJson, source: str, installed: set[str]) -> CatalogEntry:
        packages = [f"{p.registryType}:{p.identifier}@{p.version}" for p in entry.packages]
        remote = entry.remote()
        env = [
            EnvView(name=v.name, secret=v.isSecret, required=v.isRequired, description=v.description)
            for p in entry.packages[:1]
            for v in p.environmentVariables
        ]
        return cls(
            name=entry.name,
            short_name=entry.short_name,
            title=entry.title,
            description=entry.description,
            version=entry.version,
            packages=packages,
            remote=remote.url if remote else None,
            env=env,
            source=source,
            installed=entry.short_name in installed,
        )


class SearchArgs(Arguments):
    query: str = Field(default="", max_length=500, description="Words to look for; empty lists everything.")
    limit: int = Field(default=20, ge=1, le=100)


class SearchResult(BaseModel):
    entries: list[CatalogEntry]
    warnings: list[str]


class InstallArgs(Arguments):
    catalog_name: str = Field(min_length=1, max_length=255, description="Registry name or short name (catalog_search).")
    values: dict[str, str] = Field(
        default_factory=dict,
        description="Values of its variables and arguments by name, e.g. {directory: /srv/notes, GITHUB_TOKEN: ...}. "
        "Secret ones are stored in the vault, never in the extension.",
    )
    name: str | None = Field(default=None, max_length=255, description="Extension name; default: the short name.")
    use: Literal["package", "remote"] | None = Field(default=None, description="Its package (stdio) or its remote.")
    enabled: bool = True
    role: Role = Role.operator
    team: str | None = TEAM
    visibility: Visibility = Field(
        default="team", description=f"The extension's: {VISIBILITY_HELP} Its secrets go to the same team (team)."
    )
    start: bool = Field(default=True, description="Start it now to list its tools.")


class Installed(ExtensionChanged):
    secrets_stored: list[str] = Field(description="Names of the secrets put in the vault.")


class RecommendArgs(Arguments):
    prompt: str | None = Field(default=None, max_length=20000, description="The task, in words.")
    template: str | None = Field(default=None, max_length=255, description="A template whose text describes the task.")
    limit: int = Field(default=5, ge=1, le=20)
    refine: bool | None = Field(
        default=None,
        description="Let the default runner's model re-rank (the recommend-extensions template): true, false, or "
        "unset for 'when a model is configured' (a default runner, e.g. from `goosuke setup`, or the "
        "GOOSUKE_OPENAI_* settings). Any failure falls back to the offline ranking.",
    )


class Recommendation(BaseModel):
    catalog_name: str
    short_name: str
    title: str | None
    score: int
    why: str
    installed: bool
    config: dict[str, Any] = Field(description="The Goose entry extension_install would add, prefilled.")
    missing: list[dict[str, str]] = Field(description="Secrets and values still needed (pass them in `values`).")


class Recommendations(BaseModel):
    recommendations: list[Recommendation]
    method: str = Field(description="How the ranking was made (and, when the model did not refine it, why).")
    execution_id: str | None = Field(default=None, description="The refinement's execution, when one ran.")


async def _installed(call: Call) -> set[str]:
    return {r.key for r in await store_of(call).records(principal=call.principal)}


@plugin.tool(permission="catalog.read", read_only=True)
async def catalog_search(call: Call, args: SearchArgs) -> SearchResult:
    """Search the catalog of well-known MCP servers (and the MCP Registry when GOOSUKE_REGISTRY_URL is set)
    by words; each entry says how it runs and which variables and secrets it needs."""
    entries, warnings = await _catalog.search(call.app.settings.registry_url, args.query, args.limit)
    installed = await _installed(call)
    if args.query.strip():
        found = {m.entry.name for m in _ranking.rank([e for e, _ in entries], args.query)}
        source = {e.name: s for e, s in entries}
        ordered = [(m.entry, source[m.entry.name]) for m in _ranking.rank([e for e, _ in entries], args.query)]
        # a registry's own search already matched its entries: keep the ones our ranking cannot score
        ordered += [(e, s) for e, s in entries if s == "registry" and e.name not in found]
        entries = ordered
    return SearchResult(entries=[CatalogEntry.of(e, s, installed) for e, s in entries[: args.limit]], warnings=warnings)


@plugin.tool(permission="extensions.manage")
async def extension_install(call: Call, args: InstallArgs) -> Installed:
    """Install a catalog entry as a Goose extension: its package is run directly (npx, uvx, docker argv,
    never a shell) or its remote is connected to. Secret variables given in `values` go to the vault and
    are named in env_keys, both in the team the extension goes to."""
    async with call.app.db.session() as session:
        team_id = await placed_in(session, call.principal, "extensions.manage", args.team)
    entry = await _catalog.resolve(call.app.settings.registry_url, args.catalog_name)
    vault = vault_of(call)
    have = frozenset(await vault.usable(team_id, call.principal.name))
    prefill = _catalog.to_extension(entry, args.values, name=args.name, use=args.use, have_secrets=have)
    if prefill.missing:
        needed = ", ".join(f"{m['name']} ({m['kind']}: {m['description']})" for m in prefill.missing)
        raise InvalidArguments(
            f"{entry.name} needs more values: {needed}. Pass them in `values`.",
            errors=[
                {"field": f"values.{m['name']}", "message": m["description"], "type": m["kind"]}
                for m in prefill.missing
            ],
        )
    config = parse_config(prefill.config, label=f"extension built from {entry.name}")
    store = store_of(call)
    if await store.taken(config.name):
        raise InvalidArguments(
            f"An extension {name_to_key(config.name)!r} exists already; pass another `name` or remove it first."
        )
    taken = [s for s in prefill.secrets if s not in have and await vault.exists(s)]
    if taken:  # checked before anything is stored: names are unique across the hub
        raise Conflict(
            f"Secret name(s) {', '.join(sorted(taken))} are taken by another team's (or user's) secrets, which this "
            "extension's team cannot use. Store the values under other names with secret_set and install with "
            "a `name` whose env_keys you then change, or ask that team. Nothing was changed."
        )
    for secret, value in prefill.secrets.items():
        await vault.put(
            secret,
            value,
            actor=call.principal.name,
            description=f"for {entry.short_name} ({entry.name})",
            principal=call.principal,
            team_id=team_id,
        )
    record, warnings = await store.add(
        config,
        actor=call.principal.name,
        enabled=args.enabled,
        role=args.role,
        source=f"catalog:{entry.name}",
        team_id=team_id,
        visibility=args.visibility,
        principal=call.principal,
    )
    result = await changed(call, record, warnings, args.start)
    return Installed(**result.model_dump(), secrets_stored=sorted(prefill.secrets))


async def _template_text(call: Call, name: str) -> str:
    """The text of a template, read through the template tool (whatever module serves templates)."""
    if "template_get" not in call.app.registry.tools:
        raise NotFound("This hub has no templates (no template_get tool); describe the task in `prompt` instead.")
    result = await call.app.registry.call_tool("template_get", {"name": name}, call)
    return json.dumps(result.model_dump(mode="json"))


@plugin.tool(permission="catalog.read", read_only=True)
async def extension_recommend(call: Call, args: RecommendArgs) -> Recommendations:
    """Recommend MCP servers from the catalog for a task (a prompt, or a template's text): ranked, with the
    reason, and each with the prefilled extension entry and the secrets or values still missing."""
    if not args.prompt and not args.template:
        raise InvalidArguments("Describe the task in `prompt` or name a `template`.")
    text = args.prompt or ""
    if args.template:
        text += " " + await _template_text(call, args.template)
    installed = await _installed(call)
    have = frozenset(i.name for i in await vault_of(call).secrets(principal=call.principal))
    entries = list(_catalog.shipped())
    matches = _ranking.rank(entries, text)
    offline = "offline keyword ranking (3 per keyword, 2 per name, 1 per description word)"
    method, execution_id = offline, None
    ranked = [(m.entry, m.score, _why(m)) for m in matches]
    refine, reason = await _recommend.wanted(call, args.refine)
    if refine:
        refined = await _recommend.refine(call, text, entries, args.limit)
        execution_id = refined.execution_id
        if refined.picks:
            by_name = {e.short_name: e for e in entries}
            scores = {m.entry.short_name: m.score for m in matches}
            ranked = [(by_name[name], scores.get(name, 0), why) for name, why in refined.picks]
            method = refined.note
        else:
            method = f"{offline}; not refined: {refined.note}"
    elif reason is not None:
        method = f"{offline}; not refined: {reason}"
    out = []
    for entry, score, why in ranked[: args.limit]:
        prefill = _catalog.to_extension(entry, {}, have_secrets=have)
        out.append(
            Recommendation(
                catalog_name=entry.name,
                short_name=entry.short_name,
                title=entry.title,
                score=score,
                why=why,
                installed=entry.short_name in installed,
                config=prefill.config,
                missing=prefill.missing,
            )
        )
    return Recommendations(recommendations=out, method=method, execution_id=execution_id)


def _why(match: _ranking.Match) -> str:
    entry = match.entry
    return f"The task mentions {', '.join(match.matched)}, which {entry.short_name} covers: {entry.description}"
