"""One reaction run: parameters from the event, the execution, its result posted back, and recovery.

A run is a ``discord_runs`` row: ``collecting`` (reading the history, condensing it) -> ``running``
(the action fired; waiting for the execution and its automatic retries) -> ``posting`` -> ``posted``,
or ``failed`` with the reason, which the bot also gives on Discord with ⚠️. Each step moves the row
with a conditional update, so a run is posted once even when two hubs look at it. Rows a stopped hub
left behind are picked up (:meth:`Runs.recover`): collected again, waited for again, or reported.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import select, update

from hub.db import Database
from hub.db.models import Action, DiscordRun, Execution, utcnow
from hub.discord.api import ReplyTo, RetryingApi
from hub.discord.condense import condense
from hub.discord.failures import RunFailed, guarded, short
from hub.discord.history import collect
from hub.discord.scopes import EffectiveConfig
from hub.discord.service import DiscordService, Place
from hub.discord.text import message_link, message_text
from hub.engine.core import Engine
from hub.engine.records import ExecutionInfo, Trigger
from hub.errors import GoosukeError
from hub.principal import Principal
from hub.teams import policy
from hub.triggers.actions import Actions

logger = logging.getLogger("goosuke.discord")

DONE, FAILED = "✅", "⚠️"
WAIT_SLICE = 30.0  # seconds per wait on an execution; the run row is touched between slices
STALE_AFTER = timedelta(minutes=3)  # an unfinished run untouched this long belongs to a stopped hub
RECOVER_EVERY = 60.0  # seconds between looks for such runs
CALL_ATTEMPTS = 5  # tries of one Discord call of a run when Discord is briefly unreachable
REASON_CHARS = 300  # the ⚠️ reply stays short


async def recent_runs(
    db: Database,
    binding: str | None,
    channel_id: int | None,
    status: str | None,
    limit: int,
    principal: Principal | None = None,
) -> list[tuple[DiscordRun, str]]:
    """Reaction runs, newest first, with their binding's name; each filter left None matches all.
    With ``principal``, only the runs of bindings it may see (``triggers.read``)."""
    query = select(DiscordRun, Action.name).join(Action, Action.id == DiscordRun.action_id)
    if principal is not None:
        query = query.where(policy.visible(principal, "triggers.read", Action))
    if binding:
        query = query.where(Action.name == binding)
    if channel_id:
        query = query.where(DiscordRun.channel_id == channel_id)
    if status:
        query = query.where(DiscordRun.status == status)
    query = query.order_by(DiscordRun.id.desc()).limit(limit)
    async with db.session() as session:
        return [(run, name) for run, name in await session.execute(query)]


class Runs:
    """Carries runs out (``Reactions.runs``); looks for unfinished ones while the bot runs."""

    def __init__(self, service: DiscordService, actions: Actions) -> None:
        self.service = service
        self.actions = actions
        self.app = service.app
        self.settings = service.settings
        self.api = RetryingApi(service, CALL_ATTEMPTS)  # the replies and reactions; reading uses service.api
        service.background.append(self.housekeeping)

    @property
    def engine(self) -> Engine:
        return self.app.services.get(Engine)

    async def _load(self, run_id: int) -> tuple[DiscordRun, Action]:
        async with self.app.db.session() as session:
            run = await session.get(DiscordRun, run_id)
            action = await session.get(Action, run.action_id) if run is not None else None
        if run is None or action is None:
            raise RunFailed("the action was deleted meanwhile")
        return run, action

    async def execute(self, run_id: int) -> None:
        """Collect, condense, fire, wait, post; any failure ends in ⚠️ with the reason."""
        run: DiscordRun | None = None
        fired_once = False
        try:
            run, action = await self._load(run_id)
            place = await self.service.place(run.channel_id)
            config = await self.service.scopes.effective(place.guild_id, place.channel_id, place.parent_id)
            trigger = Trigger(
                kind="discord", actor=run.reactor, ref=message_link(run.guild_id, run.channel_id, run.message_id)
            )
            params = await self._params(run, action, place, config, trigger)
            fired = await self.actions.fire(action, params=params, trigger=trigger, slot=str(run.message_id))
            fired_once = True  # the firing row tells the outcome from here on
            if fired.execution is None:
                raise RunFailed(f"the execution could not start: {short(fired.detail)}")
            if not await self._move(run.id, "collecting", "running", execution_id=fired.execution.id):
                return  # recovered elsewhere meanwhile
            info = await self.wait(run.id, fired.execution.id, record=True)
            await self._post(run.id, info, config, place)
        except RunFailed as exc:
            if run is not None:
                await self._fail(run, exc.reason, record=not fired_once)
        except GoosukeError as exc:
            if run is not None:
                await self._fail(run, exc.message, record=not fired_once)
        except Exception as exc:  # a bug must end the run clearly, not leave it to be recovered forever
            logger.exception("Discord run %s failed unexpectedly", run_id)
            if run is not None:
                await self._fail(run, f"internal error ({type(exc).__name__}); see the hub log", record=not fired_once)

    async def _params(
        self, run: DiscordRun, action: Action, place: Place, config: EffectiveConfig, trigger: Trigger
    ) -> dict[str, Any]:
        fields = set(action.mapping.values())
        values: dict[str, Any] = {
            "channel": place.label,
            "channel_id": str(place.channel_id),
            "guild": place.guild_name or str(place.guild_id),
            "guild_id": str(place.guild_id),
            "message_id": str(run.message_id),
            "message_link": trigger.ref,
            "reactor": (run.result or {}).get("event", {}).get("user_name", run.reactor),
            "reactor_id": str((run.result or {}).get("event", {}).get("user_id", "")),
            "emoji": (run.result or {}).get("event", {}).get("emoji", ""),
            "language": config.language,
        }
        history_keys = [key for key, field in action.mapping.items() if field == "history"]
        staged = False
        if fields & {"history", "message", "author", "author_id"}:
            client = await self.service.ready()
            try:
                anchor, lines = await collect(
                    self.service.api,
                    run.channel_id,
                    run.message_id,
                    after_id=await self._marker(run),
                    config=config,
                    skip_author=client.user.id if client.user else None,
                    history="history" in fields,
                )
            except GoosukeError as exc:
                raise RunFailed(short(exc.message)) from None
            author = anchor.get("author") or {}
            values.update(
                message=message_text(anchor),
                author=(anchor.get("member") or {}).get("nick") or author.get("global_name") or author.get("username"),
                author_id=str(author.get("id", "")),
                history="\n".join(lines),
            )
            if history_keys and len(values["history"]) > self.settings.discord_summary_chunk_chars:
                values["history"], staged = await condense(self, run, action, values, history_keys[0], lines, trigger)
        params = {key: values[field] for key, field in action.mapping.items() if field in values}
        if staged:
            params["stage"] = "combine"
        return params

    async def _marker(self, run: DiscordRun) -> int | None:
        """The message of the previous posted run of this template in this channel: history starts after it."""
        async with self.app.db.session() as session:
            marker = await session.scalar(
                select(DiscordRun.message_id)
                .where(
                    DiscordRun.channel_id == run.channel_id,
                    DiscordRun.template == run.template,
                    DiscordRun.status == "posted",
                    DiscordRun.message_id < run.message_id,
                )
                .order_by(DiscordRun.message_id.desc())
                .limit(1)
            )
            return marker

    async def wait(self, run_id: int, execution_id: str, *, record: bool = False) -> ExecutionInfo:
        """Wait for the execution and its automatic retries (with ``record``, the run keeps the latest id)."""
        current = execution_id
        with anyio.move_on_after(self.settings.discord_run_timeout):
            while True:
                info = await self.engine.wait(current, WAIT_SLICE)
                if not info.final:
                    await self._touch(run_id)
                    continue
                retry = await self._retry_of(info)
                if retry is None:
                    return info
                current = retry
                if not record:
                    continue
                async with self.app.db.session() as session:
                    await session.execute(
                        update(DiscordRun)
                        .where(DiscordRun.id == run_id)
                        .values(execution_id=retry, updated_at=utcnow())
                    )
        raise RunFailed(f"no result after {self.settings.discord_run_timeout:g} s (execution {current})")

    async def _retry_of(self, info: ExecutionInfo) -> str | None:
        if info.status == "succeeded":
            return None
        async with self.app.db.session() as session:
            retry = await session.scalar(select(Execution.id).where(Execution.retry_of == info.id).limit(1))
            return retry

    # -- posting --------------------------------------------------------------------------

    async def _send(self, channel_id: int, text: str, reply_to: DiscordRun | None) -> list[str]:
        reply = ReplyTo(reply_to.message_id, reply_to.channel_id, fail_if_not_exists=False) if reply_to else None
        sent = await self.api.post(channel_id, text, reply_to=reply, what="Posting the result")
        return [str(message["id"]) for message in sent]

    async def _react(self, run: DiscordRun, emoji: str) -> None:
        await self.api.add_reaction(run.channel_id, run.message_id, emoji, what=f"Reacting {emoji}")

    async def _thread(self, run: DiscordRun, place: Place) -> int:
        """A thread on the reacted message (the existing one when there is one)."""
        if place.parent_id is not None:
            return run.channel_id  # already in a thread
        try:
            thread = await self.api.create_thread(
                run.channel_id, "Summary", message_id=run.message_id, what="Opening a thread"
            )
        except RunFailed as exc:
            if "160004" in exc.reason or "already" in exc.reason:
                return run.message_id  # a message's thread has the message's id
            raise
        return int(thread["id"])

    async def _post(self, run_id: int, info: ExecutionInfo, config: EffectiveConfig, place: Place) -> None:
        run, _ = await self._load(run_id)
        if not await self._move(run.id, "running", "posting"):
            return  # another hub posts it
        if info.status != "succeeded":
            raise RunFailed(f"execution {info.id} {info.status}: {short(info.error)}")
        text = (info.output or "").strip()
        if not text:
            raise RunFailed(f"execution {info.id} produced no output")
        reply_to: DiscordRun | None = run
        target = run.channel_id
        if config.post_to == "thread":
            target, reply_to = await self._thread(run, place), None
        elif config.post_to == "channel" and config.post_channel_id:
            target, reply_to = int(config.post_channel_id), None
            text = f"{message_link(run.guild_id, run.channel_id, run.message_id)}\n{text}"
        replies = await self._send(target, text, reply_to)
        await self._react(run, DONE)
        result = {**(run.result or {}), "replies": replies, "channel_id": str(target)}
        await self._move(run.id, "posting", "posted", result=result)

    async def _fail(self, run: DiscordRun, reason: str, *, record: bool = False) -> None:
        logger.warning("Discord run %s on message %s failed: %s", run.id, run.message_id, reason)
        async with self.app.db.session() as session:
            await session.execute(
                update(DiscordRun)
                .where(DiscordRun.id == run.id)
                .values(status="failed", detail=reason[:2000], updated_at=utcnow())
            )
        if record:  # failed before the action fired: the firing history should say so too
            action = await self._action(run.action_id)
            if action is not None:
                await self.actions.record(action, "failed", slot=str(run.message_id), detail=reason, actor=run.reactor)
        for report in (
            lambda: self._react(run, FAILED),
            lambda: self._send(run.channel_id, f"{FAILED} {short(reason, REASON_CHARS)}", run),
        ):
            try:
                await report()
            except RunFailed as exc:  # the message or the channel may be gone: nothing more to tell
                logger.warning("Could not report the failure on Discord: %s", exc.reason)

    async def _action(self, action_id: str) -> Action | None:
        async with self.app.db.session() as session:
            return await session.get(Action, action_id)

    # -- rows -----------------------------------------------------------------------------

    async def _move(self, run_id: int, old: str, new: str, **values: Any) -> bool:
        async with self.app.db.session() as session:
            done = await session.execute(
                update(DiscordRun)
                .where(DiscordRun.id == run_id, DiscordRun.status == old)
                .values(status=new, updated_at=utcnow(), **values)
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult

    async def _touch(self, run_id: int) -> None:
        async with self.app.db.session() as session:
            await session.execute(update(DiscordRun).where(DiscordRun.id == run_id).values(updated_at=utcnow()))

    # -- recovery -------------------------------------------------------------------------

    async def housekeeping(self) -> None:
        while True:
            try:
                await self.service.ready(timeout=RECOVER_EVERY)
                await self.recover()
            except GoosukeError:
                pass  # not connected: look again later
            except Exception:
                logger.exception("Looking for unfinished Discord runs failed")
            await anyio.sleep(RECOVER_EVERY)

    async def recover(self, stale_after: timedelta | None = None) -> list[int]:
        """Pick up runs a stopped hub left unfinished: collect again, wait again, or report them."""
        cutoff = datetime.now(UTC) - (STALE_AFTER if stale_after is None else stale_after)
        async with self.app.db.session() as session:
            rows = list(
                await session.scalars(
                    select(DiscordRun).where(
                        DiscordRun.status.in_(("collecting", "running", "posting")), DiscordRun.updated_at < cutoff
                    )
                )
            )
        picked = []
        for run in rows:
            async with self.app.db.session() as session:  # claim it: replicas race for the same rows
                done = await session.execute(
                    update(DiscordRun)
                    .where(DiscordRun.id == run.id, DiscordRun.updated_at == run.updated_at)
                    .values(updated_at=utcnow())
                )
            if not done.rowcount:  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
                continue
            picked.append(run.id)
            if run.status == "collecting":
                self.service.spawn(guarded, self.execute, run.id)
            elif run.status == "running" and run.execution_id:
                self.service.spawn(guarded, self._resume, run.id, run.execution_id)
            else:
                self.service.spawn(guarded, self._fail, run, "the hub stopped while posting the result")
        if picked:
            logger.warning("Picked up %d unfinished Discord run(s): %s", len(picked), picked)
        return picked

    async def _resume(self, run_id: int, execution_id: str) -> None:
        run, _ = await self._load(run_id)
        try:
            place = await self.service.place(run.channel_id)
            config = await self.service.scopes.effective(place.guild_id, place.channel_id, place.parent_id)
            info = await self.wait(run.id, execution_id, record=True)
            await self._post(run.id, info, config, place)
        except RunFailed as exc:
            await self._fail(run, exc.reason)
        except GoosukeError as exc:
            await self._fail(run, exc.message)
