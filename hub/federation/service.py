"""Federation: every enabled extension's tools, resources and prompts, served through the hub.

A client that connects to the hub once sees each extension's tools as ``{key}__{tool}``, its prompts
as ``{key}__{prompt}``, its resources as ``goosuke-ext://{key}/{original uri}``. Listing never starts
a server: it reads what the last start discovered (kept in the database, so every replica lists the
same). The first call starts the server; it stays warm until idle for ``extension_idle_timeout``,
is restarted with backoff when it crashes, and each request is bounded by the extension's own
``timeout``. Who may use an extension is its role on its owning team and visibility
(:mod:`hub.extensions.access`): every list is filtered for the caller, so ``tools/list`` shows exactly
the federated tools it may call, and a call to another team's tool is an unknown tool.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    GetPromptResult,
    ServerNotification,
    TextContent,
)
from mcp_types import Prompt as MCPPrompt
from mcp_types import Resource as MCPResource
from mcp_types import ResourceTemplate as MCPResourceTemplate
from mcp_types import Tool as MCPTool
from pydantic import BaseModel

from hub.errors import GoosukeError, NotFound, PermissionDenied, ToolError
from hub.extensions.access import may_use
from hub.extensions.store import ExtensionRecord, ExtensionStore
from hub.federation import listing
from hub.federation.calls import check_use, request, scrub_result
from hub.federation.check import CheckReport, check_extension
from hub.federation.client import Connection, describe, discover, stderr_tail
from hub.federation.listing import SEP, URI_PREFIX
from hub.federation.upstream import Upstream
from hub.principal import Principal, Role
from hub.vault.service import Vault

if TYPE_CHECKING:
    from hub.context import AppContext

logger = logging.getLogger("goosuke.federation")

R = TypeVar("R")
ResultT = TypeVar("ResultT", bound=BaseModel)


class Federation:
    """The federation service (``app.services.get(Federation)``): a :class:`~hub.protocols.CapabilitySource`
    whose tools, resources and prompts are the enabled extensions'."""

    def __init__(self, app: AppContext, store: ExtensionStore, vault: Vault) -> None:
        self.app = app
        self.settings = app.settings
        self.store = store
        self.vault = vault
        self.log_dir: Path = app.settings.data_dir / "extensions"
        self.records: dict[str, ExtensionRecord] = {}
        self.upstreams: dict[str, Upstream] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._discovering: set[str] = set()
        self._discovery_failed: dict[str, str] = {}  # key -> record hash whose discovery failed

    # -- lifecycle ----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Federation]:
        self.store.on_change(self._on_store_change)
        await self.refresh()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._reaper)
            try:
                yield self
            finally:
                with anyio.CancelScope(shield=True):
                    await self.stop_all()
                tg.cancel_scope.cancel()
        self._tg = None

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._tg is None:
            raise ToolError("Federation is not running (the hub is starting or stopping); try again shortly.")
        self._tg.start_soon(fn)

    async def stop_all(self) -> None:
        async with anyio.create_task_group() as tg:
            for upstream in list(self.upstreams.values()):
                tg.start_soon(upstream.stop)

    async def _reaper(self) -> None:
        """Stop servers idle for longer than ``extension_idle_timeout``."""
        idle = self.settings.extension_idle_timeout
        while True:
            await anyio.sleep(min(max(idle / 4, 0.05), 5.0))
            now = time.monotonic()
            for upstream in list(self.upstreams.values()):
                if upstream.running and upstream.inflight == 0 and now - upstream.last_used > idle:
                    logger.info("Stopping idle extension %r", upstream.key)
                    self.spawn(upstream.stop)

    # -- records --------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the extensions table (another replica may have changed it)."""
        current = {r.key: r for r in await self.store.records()}
        changed = False
        for key in set(self.records) | set(current):
            old, new = self.records.get(key), current.get(key)
            if old is None or new is None or old.updated_at != new.updated_at or old.discovered != new.discovered:
                changed = await self._apply(key, new) or changed
        if changed:
            await self._notify()

    async def _on_store_change(self, key: str, record: ExtensionRecord | None) -> None:
        if await self._apply(key, record):
            await self._notify()

    async def _apply(self, key: str, record: ExtensionRecord | None) -> bool:
        """Adopt a new version of a record; returns whether what clients see changed."""
        old = self.records.get(key)
        if record is None:
            self.records.pop(key, None)
        else:
            self.records[key] = record
        upstream = self.upstreams.get(key)
        config_changed = old is None or record is None or old.hash != record.hash
        if upstream is not None and (config_changed or record is None or not record.enabled):
            self.upstreams.pop(key, None)
            if self._tg is not None:
                self._tg.start_soon(upstream.stop)
        elif upstream is not None and record is not None:
            upstream.record = record
        return self._exposed(old) != self._exposed(record)

    def _exposed(self, record: ExtensionRecord | None) -> tuple[Role, str, str, str, dict[str, Any] | None] | None:
        if record is None or not record.enabled or not record.federated:
            return None
        return (record.role, record.team_id, record.visibility, record.hash, record.discovered)

    async def _notify(self) -> None:
        server = self.app.server
        if server is None:
            return
        for notify in ("notify_tools_changed", "notify_resources_changed", "notify_prompts_changed"):
            method = getattr(server, notify, None)
            if method is not None:
                try:
                    await method()
                except Exception:  # a notification is best effort; a broken session must not fail a change
                    logger.exception("Could not send %s", notify)

    async def launch_env(self, record: ExtensionRecord) -> dict[str, str]:
        _, env = await self.store.launch_spec(record.key)
        return env

    async def discovered(self, key: str, found: dict[str, Any]) -> None:
        """A server (re)started or announced a change: keep what it offers, tell clients if it differs."""
        record = self.records.get(key)
        self._discovery_failed.pop(key, None)
        if record is None or record.discovered == found:
            return
        with anyio.CancelScope(shield=True):  # a write cut off half-way strands its SQLite connection
            await self.store.save_discovery(key, found)
        self.records[key] = dataclasses.replace(record, discovered=found)
        await self._notify()

    def message_handler(self, key: str) -> Callable[[Any], Awaitable[None]]:
        async def handle(message: Any) -> None:
            if isinstance(message, ServerNotification) and message.method.endswith("/list_changed"):
                self.spawn(lambda: self._rediscover(key))
            await anyio.lowlevel.checkpoint()

        return handle

    async def _rediscover(self, key: str) -> None:
        upstream = self.upstreams.get(key)
        if upstream is not None and upstream.connection is not None:
            try:
                await self.discovered(key, await discover(upstream.connection.client))
            except Exception as exc:
                logger.warning("Extension %r: re-listing after a change failed: %s", key, describe(exc))

    def _active(self, principal: Principal | None = None) -> list[ExtensionRecord]:
        """The enabled federated extensions (with ``principal``: those it may use)."""
        return [
            r
            for r in self.records.values()
            if r.enabled and r.federated and (principal is None or may_use(principal, r))
        ]

    def _discover_soon(self, record: ExtensionRecord) -> None:
        if record.key in self._discovering or self._discovery_failed.get(record.key) == record.hash:
            return
        self._discovering.add(record.key)

        async def run() -> None:
            try:
                await self.upstream(record).session(self.settings.extension_start_timeout)
            except GoosukeError as exc:
                self._discovery_failed[record.key] = record.hash
                logger.warning("Discovering extension %r failed: %s", record.key, exc.message)
            finally:
                self._discovering.discard(record.key)

        if self._tg is not None:
            self._tg.start_soon(run)

    def upstream(self, record: ExtensionRecord) -> Upstream:
        upstream = self.upstreams.get(record.key)
        if upstream is None:
            upstream = self.upstreams[record.key] = Upstream(self, record)
        return upstream

    # -- naming ---------------------------------------------------------------------------------

    def route(self, name: str) -> tuple[ExtensionRecord, str] | None:
        """The extension and upstream name behind ``{key}__{name}`` (the longest matching key wins)."""
        best: ExtensionRecord | None = None
        for record in self._active():
            if name.startswith(record.key + SEP) and (best is None or len(record.key) > len(best.key)):
                best = record
        if best is None:
            return None
        return best, name[len(best.key) + len(SEP) :]

    def owns(self, name: str) -> bool:
        return name not in self.app.registry.tools and self.route(name) is not None

    def _allowed_tool(self, record: ExtensionRecord, tool: str) -> bool:
        return listing.allowed_tool(record, tool)

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        found = self.route(name)
        if found is None or not found[0].discovered:
            return None
        for tool in found[0].discovered.get("tools", []):
            if tool["name"] == found[1]:
                schema: dict[str, Any] | None = tool.get("inputSchema")
                return schema
        return None

    # -- listing (the names and shapes: hub/federation_listing.py) -----------------------------------

    async def list_tools(self, principal: Principal) -> list[MCPTool]:
        """The federated tools ``principal`` may call (its extensions' role and team, its token's patterns)."""
        await self.refresh()
        for record in self._active():
            if record.discovered is None:
                self._discover_soon(record)
        tools = listing.tools(self._active(principal), set(self.app.registry.tools))
        return [tool for tool in tools if principal.grants.may_call(tool.name)]

    async def list_resources(self, principal: Principal) -> list[MCPResource]:
        return listing.resources(self._active(principal))

    async def list_resource_templates(self, principal: Principal) -> list[MCPResourceTemplate]:
        return listing.resource_templates(self._active(principal))

    async def list_prompts(self, principal: Principal) -> list[MCPPrompt]:
        return listing.prompts(self._active(principal))

    # -- calling ----------------------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any], principal: Principal) -> CallToolResult:
        """Call ``{key}__{tool}``; failures come back as ``isError`` results that say what to do."""
        started, outcome = time.perf_counter(), "error"
        try:
            found = self.route(name)
            if found is None:
                raise NotFound(f"Unknown tool {name!r}. Call tools/list to see the tools this hub offers.")
            record, tool = found
            await self._check_use(record, principal, f"tool {name!r}", f"tool:{name}", tool=name)
            if not self._allowed_tool(record, tool):
                raise NotFound(f"Tool {tool!r} is not in the available_tools of extension {record.key!r}.")
            result = await self._request(
                record,
                f"tools/call {tool!r}",
                lambda c: c.call_tool(tool, arguments, record.timeout),
            )
            outcome = "ok"
            return self._scrub_result(result)
        except PermissionDenied as exc:
            outcome = "denied"
            return CallToolResult(content=[TextContent(type="text", text=exc.message)], is_error=True)
        except GoosukeError as exc:
            return CallToolResult(content=[TextContent(type="text", text=exc.message)], is_error=True)
        finally:
            metrics = self.app.metrics
            metrics.tool_calls.labels(tool=name, outcome=outcome, via="federation").inc()
            metrics.tool_seconds.labels(tool=name).observe(time.perf_counter() - started)

    def _scrub_result(self, result: ResultT) -> ResultT:
        return scrub_result(self.vault, result)

    async def _check_use(
        self, record: ExtensionRecord, principal: Principal, what: str, target: str, tool: str | None = None
    ) -> None:
        await check_use(self.app, record, principal, what, target, tool)

    async def _request(self, record: ExtensionRecord, what: str, send: Callable[[Connection], Awaitable[R]]) -> R:
        start_timeout = self.settings.extension_start_timeout
        return await request(self.upstream(record), record, what, send, start_timeout=start_timeout, scrub=self.scrub)

    def serves_uri(self, uri: str) -> bool:
        return self.resolve_uri(uri) is not None

    def scrub(self, text: str) -> str:
        return self.vault.scrub(text)

    def resolve_uri(self, uri: str) -> tuple[ExtensionRecord, str] | None:
        if not uri.startswith(URI_PREFIX):
            return None
        key, _, original = uri[len(URI_PREFIX) :].partition("/")
        record = self.records.get(key)
        if record is None or not record.enabled or not record.federated or not original:
            return None
        return record, original

    async def read_resource(self, uri: str, principal: Principal) -> list[ReadResourceContents]:
        found = self.resolve_uri(uri)
        if found is None:
            raise NotFound(f"Unknown resource {uri!r}. List resources with resources/list.")
        record, original = found
        await self._check_use(record, principal, f"resource {uri!r}", f"resource:{uri}")
        result = await self._request(
            record, f"resources/read {original!r}", lambda c: c.client.session.read_resource(original)
        )
        contents: list[ReadResourceContents] = []
        for item in result.contents:
            if isinstance(item, BlobResourceContents):
                contents.append(ReadResourceContents(content=base64.b64decode(item.blob), mime_type=item.mime_type))
            else:
                contents.append(ReadResourceContents(content=self.vault.scrub(item.text), mime_type=item.mime_type))
        return contents

    async def get_prompt(self, name: str, arguments: dict[str, str], principal: Principal) -> GetPromptResult | None:
        found = self.route(name)
        if found is None:
            return None
        record, prompt = found
        await self._check_use(record, principal, f"prompt {name!r}", f"prompt:{name}")
        result = await self._request(
            record, f"prompts/get {prompt!r}", lambda c: c.client.session.get_prompt(prompt, arguments or None)
        )
        return self._scrub_result(result)

    # -- checking -----------------------------------------------------------------------------------

    async def check(self, record: ExtensionRecord) -> CheckReport:
        """Start (or connect to) the extension on a connection of its own, list what it offers, stop it."""
        report, found = await check_extension(record, self.launch_env, self.settings, self.log_dir, self.vault.scrub)
        if found is not None and record.enabled:
            await self.discovered(record.key, found)
        return report

    def status(self, key: str) -> dict[str, Any]:
        upstream = self.upstreams.get(key)
        if upstream is None:
            return {"state": "stopped", "starts": 0, "crashes": 0, "last_error": None}
        report: dict[str, Any] = {
            "state": upstream.state,
            "starts": upstream.starts,
            "crashes": upstream.crashes,
            "last_error": self.vault.scrub(upstream.last_error) if upstream.last_error else None,
        }
        if upstream.state == "backoff":  # when the next start is due, as a time a reader can show
            report["retry_at"] = datetime.now(UTC) + timedelta(seconds=max(0.0, upstream.retry_at - time.monotonic()))
        if upstream.state in ("backoff", "failed") and upstream.record.type == "stdio":
            lines = stderr_tail(upstream.log_path).splitlines()
            report["stderr_last_line"] = self.vault.scrub(lines[-1]) if lines else None
        return report
