"""A Discord double: REST under ``/api/v10`` and the gateway websocket, on one real socket.

The real discord.py drives it (point the hub at ``double.api_base`` and ``double.gateway_url``). It
keeps guilds, channels, threads, members and messages in memory, serves what the bot and the tools
call, dispatches ``MESSAGE_CREATE`` and ``MESSAGE_REACTION_ADD`` over the gateway, and records every
REST request. Faults are scripted per route::

    async with DiscordDouble() as discord:
        guild = discord.add_guild("Acme")
        general = discord.add_channel(guild, "general")
        ana = discord.add_user("ana")
        message = discord.say(general, ana, "we ship on Friday")
        discord.fail("POST", "/channels/{id}/messages", status=429, retry_after=0.05)
        await discord.react(general, message, ana, "✏️")

Facts it follows (docs/discord.md in the shared briefs): JSON answers carry exactly
``application/json``; a 429 carries ``Via`` and a JSON ``retry_after`` (discord.py retries only
then); search answers 202 with code 110000 while "indexing"; a 4014 close when MESSAGE_CONTENT is
requested but not granted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from harness.processes import free_port

DISCORD_EPOCH_MS = 1420070400000
MESSAGE_CONTENT = 1 << 15
HEARTBEAT_INTERVAL_MS = 41250
TEXT, THREAD, CATEGORY = 0, 11, 4

_counter = itertools.count(1)


def snowflake(at: datetime | None = None) -> str:
    """A snowflake whose timestamp is ``at`` (discord.py reads creation times from ids)."""
    moment = at or datetime.now(UTC)
    ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def time_of(flake: str) -> datetime:
    return datetime.fromtimestamp(((int(flake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``route`` with this status."""

    method: str
    route: str
    status: int
    times: int = 1
    retry_after: float = 0.05
    code: int = 0
    message: str = "scripted failure"
    via: bool = True


@dataclass
class Logged:
    method: str
    path: str
    route: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Gateway:
    ws: web.WebSocketResponse
    seq: int = 0
    session_id: str | None = None
    intents: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly `application/json`: with `; charset=utf-8` discord.py treats the body as a string.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)


ROUTES: list[tuple[str, str]] = [
    ("GET", "/users/@me"),
    ("GET", "/oauth2/applications/@me"),
    ("GET", "/users/@me/guilds"),
    ("GET", "/gateway/bot"),
    ("GET", "/guilds/{id}"),
    ("GET", "/guilds/{id}/channels"),
    ("GET", "/guilds/{id}/threads/active"),
    ("GET", "/guilds/{id}/messages/search"),
    ("GET", "/guilds/{id}/members/{id}"),
    ("GET", "/channels/{id}"),
    ("GET", "/channels/{id}/messages"),
    ("POST", "/channels/{id}/messages"),
    ("GET", "/channels/{id}/messages/{id}"),
    ("PATCH", "/channels/{id}/messages/{id}"),
    ("DELETE", "/channels/{id}/messages/{id}"),
    ("PUT", "/channels/{id}/messages/{id}/reactions/{emoji}/@me"),
    ("POST", "/channels/{id}/messages/{id}/threads"),
    ("POST", "/channels/{id}/threads"),
]


def _route_pattern(route: str) -> re.Pattern[str]:
    pattern = re.escape(route).replace(r"\{id\}", r"(\d+)").replace(r"\{emoji\}", r"([^/]+)")
    return re.compile(f"^{pattern}$")


COMPILED = [(method, route, _route_pattern(route)) for method, route in ROUTES]


class DiscordDouble:
    """Discord's REST API and gateway, in memory, on ``127.0.0.1:port``."""

    def __init__(self, *, port: int | None = None, token: str = "test-bot-token", privileged: bool = True) -> None:
        self.port = port or free_port()
        self.token = token
        self.privileged = privileged  # False: the portal has MESSAGE_CONTENT off -> close 4014
        self.bot = self._user_payload(snowflake(), "goosuke-bot", bot=True)
        self.application_id = snowflake()
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.forbidden: set[str] = set()  # channels the bot may not read or write (403)
        self.reactions: list[tuple[str, str, str]] = []  # (channel, message, emoji) the bot added
        self.requests: list[Logged] = []
        self.faults: list[Fault] = []
        self.search_pending = 0  # answer this many searches with 202 "index not ready"
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.gateways: list[Gateway] = []
        self.on_request: Callable[[Logged], Any] | None = None
        self._runner: web.AppRunner | None = None
        self._sessions: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()

    # -- serving ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/"

    async def __aenter__(self) -> DiscordDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("GET", "/gateway/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        for gateway in list(self.gateways):
            await gateway.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- building the world --------------------------------------------------------------

    @staticmethod
    def _user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": user_id,
            "username": name,
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    def add_user(
        self, name: str, *, bot: bool = False, guild: str | None = None, roles: list[str] | None = None
    ) -> str:
        user = self._user_payload(snowflake(), name, bot=bot)
        self.users[user["id"]] = user
        for guild_id in [guild] if guild else list(self.guilds):
            self.add_member(guild_id, user["id"], roles=roles)
        return str(user["id"])

    def add_member(self, guild_id: str, user_id: str, *, roles: list[str] | None = None) -> None:
        self.members[(guild_id, user_id)] = {
            "user": self.users[user_id],
            "roles": list(roles or []),
            "joined_at": iso(datetime.now(UTC)),
            "nick": None,
            "avatar": None,
            "flags": 0,
            "deaf": False,
            "mute": False,
            "pending": False,
        }

    def add_guild(self, name: str) -> str:
        guild_id = snowflake()
        self.guilds[guild_id] = {"id": guild_id, "name": name, "roles": {}}
        self.add_role(guild_id, "@everyone", role_id=guild_id)
        self.add_member(guild_id, self.bot["id"])
        for user_id, user in self.users.items():
            if user_id != self.bot["id"] and not user.get("bot"):
                self.add_member(guild_id, user_id)
        return guild_id

    def add_role(self, guild_id: str, name: str, *, role_id: str | None = None) -> str:
        role_id = role_id or snowflake()
        self.guilds[guild_id]["roles"][role_id] = {
            "id": role_id,
            "name": name,
            "permissions": "0",
            "position": len(self.guilds[guild_id]["roles"]),
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        return role_id

    def add_channel(self, guild_id: str, name: str, *, forbidden: bool = False) -> str:
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": channel_id,
            "type": TEXT,
            "guild_id": guild_id,
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        self.messages[channel_id] = {}
        if forbidden:
            self.forbidden.add(channel_id)
        return channel_id

    def add_thread(self, channel_id: str, name: str, *, thread_id: str | None = None) -> str:
        parent = self.channels[channel_id]
        thread_id = thread_id or snowflake()
        self.channels[thread_id] = {
            "id": thread_id,
            "type": THREAD,
            "guild_id": parent["guild_id"],
            "name": name,
            "parent_id": channel_id,
            "owner_id": self.bot["id"],
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(datetime.now(UTC)),
                "locked": False,
            },
        }
        self.messages[thread_id] = {}
        return thread_id

    def say(
        self,
        channel_id: str,
        author_id: str,
        content: str,
        *,
        at: datetime | None = None,
        embeds: list[dict[str, Any]] | None = None,
        attachments: list[str] | None = None,
        dispatch: bool = True,
    ) -> str:
        """A message from ``author_id`` (stored, and sent as MESSAGE_CREATE to connected gateways)."""
        message = self._message(channel_id, author_id, content, at=at, embeds=embeds, attachments=attachments)
        if dispatch:
            self._broadcast("MESSAGE_CREATE", {**message, "member": self._member_of(channel_id, author_id)})
        return str(message["id"])

    def _message(
        self,
        channel_id: str,
        author_id: str,
        content: str,
        *,
        at: datetime | None = None,
        embeds: list[dict[str, Any]] | None = None,
        attachments: list[str] | None = None,
        reference: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        moment = at or datetime.now(UTC)
        message_id = snowflake(moment)
        channel = self.channels[channel_id]
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "guild_id": channel["guild_id"],
            "type": 19 if reference else 0,
            "content": content,
            "author": self.users[author_id],
            "timestamp": iso(moment),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": snowflake(),
                    "filename": name,
                    "size": 1234,
                    "url": f"https://cdn.example/{name}",
                    "proxy_url": f"https://cdn.example/{name}",
                }
                for name in attachments or []
            ],
            "embeds": embeds or [],
            "pinned": False,
            "flags": 0,
        }
        if reference:
            message["message_reference"] = reference
        self.messages[channel_id][message_id] = message
        channel["last_message_id"] = message_id
        return message

    def _member_of(self, channel_id: str, user_id: str) -> dict[str, Any] | None:
        member = self.members.get((self.channels[channel_id]["guild_id"], user_id))
        if member is None:
            return None
        return {k: v for k, v in member.items() if k != "user"}

    async def react(self, channel_id: str, message_id: str, user_id: str, emoji: str, *, emoji_id: str | None = None):
        """A user adds a reaction: MESSAGE_REACTION_ADD on every connected gateway."""
        channel = self.channels[channel_id]
        member = self.members.get((channel["guild_id"], user_id))
        message = self.messages[channel_id].get(message_id)
        event = {
            "user_id": user_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "guild_id": channel["guild_id"],
            "emoji": {"id": emoji_id, "name": emoji, "animated": False},
            "type": 0,
            "burst": False,
            "burst_colors": [],
            "message_author_id": message["author"]["id"] if message else None,
        }
        if member is not None:
            event["member"] = member
        await self._dispatch_all("MESSAGE_REACTION_ADD", event)

    def delete(self, channel_id: str, message_id: str) -> None:
        self.messages[channel_id].pop(message_id, None)

    def fail(self, method: str, route: str, *, status: int, **kwargs: Any) -> Fault:
        fault = Fault(method, route, status, **kwargs)
        self.faults.append(fault)
        return fault

    # -- what the bot did ------------------------------------------------------------

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.history(channel_id) if m["author"]["id"] == self.bot["id"]]

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """The channel's messages, oldest first."""
        return sorted(self.messages[channel_id].values(), key=lambda m: int(m["id"]))

    def calls(self, method: str, route: str) -> list[Logged]:
        return [r for r in self.requests if r.method == method and r.route == route]

    @property
    def connected(self) -> bool:
        return any(g.session_id and not g.ws.closed for g in self.gateways)

    async def drop_gateways(self, code: int = 4000) -> None:
        """Close every gateway connection (discord.py resumes after 4000)."""
        for gateway in list(self.gateways):
            await gateway.ws.close(code=code, message=b"dropped by the double")

    # -- gateway -------------------------------------------------------------------------

    async def _send(self, gateway: Gateway, op: int, data: Any, event: str | None = None) -> None:
        payload: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            gateway.seq += 1
            payload["s"] = gateway.seq
        if not gateway.ws.closed:
            await gateway.ws.send_str(json.dumps(payload))

    async def _dispatch_all(self, event: str, data: dict[str, Any]) -> None:
        for gateway in list(self.gateways):
            if gateway.session_id and not gateway.ws.closed:
                await self._send(gateway, 0, data, event)

    def _broadcast(self, event: str, data: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # building the world before anything runs
            return
        task = loop.create_task(self._dispatch_all(event, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        gateway = Gateway(ws)
        self.gateways.append(gateway)
        try:
            await self._send(gateway, 10, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, data = frame.get("op"), frame.get("d")
                if op == 1:
                    await self._send(gateway, 11, None)
                elif op == 2:
                    await self._identify(gateway, data)
                elif op == 6:
                    await self._resume(gateway, data)
        finally:
            gateway.closed.set()
            self.gateways.remove(gateway)
            self._touch()
        return ws

    async def _identify(self, gateway: Gateway, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await gateway.ws.close(code=4004, message=b"Authentication failed.")
            return
        gateway.intents = int(data.get("intents", 0))
        if gateway.intents & MESSAGE_CONTENT and not self.privileged:
            await gateway.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        gateway.session_id = uuid.uuid4().hex
        self._sessions.add(gateway.session_id)
        ready = {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": gid, "unavailable": True} for gid in self.guilds],
            "session_id": gateway.session_id,
            "resume_gateway_url": self.gateway_url.rstrip("/"),
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await self._send(gateway, 0, ready, "READY")
        for guild_id in self.guilds:
            await self._send(gateway, 0, self._guild_create(guild_id), "GUILD_CREATE")
        self._touch()

    async def _resume(self, gateway: Gateway, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        if data.get("token") != self.token or data.get("session_id") not in self._sessions:
            await self._send(gateway, 9, False)
            return
        gateway.session_id = data["session_id"]
        gateway.seq = int(data.get("seq") or 0)
        await self._send(gateway, 0, {}, "RESUMED")
        self._touch()

    def _touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def _guild_payload(self, guild_id: str) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        return {
            "id": guild_id,
            "name": guild["name"],
            "icon": None,
            "owner_id": self.bot["id"],
            "roles": list(guild["roles"].values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }

    def _guild_create(self, guild_id: str) -> dict[str, Any]:
        members = [m for (gid, _), m in self.members.items() if gid == guild_id]
        return {
            **self._guild_payload(guild_id),
            "unavailable": False,
            "member_count": len(members),
            "large": False,
            "joined_at": iso(datetime.now(UTC)),
            "members": members,
            "channels": [c for c in self.channels.values() if c["guild_id"] == guild_id and c["type"] != THREAD],
            "threads": [c for c in self.channels.values() if c["guild_id"] == guild_id and c["type"] == THREAD],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    # -- REST -----------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        for route_method, route, pattern in COMPILED:  # noqa: B007 - `route` is used after the loop
            found = pattern.match(path)
            if route_method == method and found:
                break
        else:
            return _error(404, 0, "404: Not Found")
        entry = Logged(method, path, route, dict(request.query), body)
        self.requests.append(entry)
        if self.on_request is not None:
            self.on_request(entry)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            entry.status = 401
            return _error(401, 0, "401: Unauthorized")
        response = self._fault(method, route) or await self._answer(method, route, found.groups(), request, body)
        entry.status = response.status
        self._touch()
        return self._with_limits(response, route)

    def _with_limits(self, response: web.Response, route: str) -> web.Response:
        if "X-RateLimit-Limit" not in response.headers:
            response.headers.update(
                {
                    "X-RateLimit-Limit": "50",
                    "X-RateLimit-Remaining": "49",
                    "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                    "X-RateLimit-Reset-After": "1.000",
                    "X-RateLimit-Bucket": f"bucket-{abs(hash(route)) % 10**8}",
                }
            )
        return response

    def _fault(self, method: str, route: str) -> web.Response | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.route == route:
                fault.times -= 1
                if fault.status == 429:
                    headers = {
                        "Retry-After": str(max(1, round(fault.retry_after))),
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}",
                        "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
                        "X-RateLimit-Scope": "user",
                    }
                    if fault.via:
                        headers["Via"] = "1.1 google"
                    body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": False}
                    return _json(body, 429, headers)
                return _error(fault.status, fault.code, fault.message)
        return None

    async def _answer(
        self, method: str, route: str, ids: tuple[str, ...], request: web.Request, body: Any
    ) -> web.Response:
        query = request.query
        if route == "/users/@me":
            return _json(self.bot)
        if route == "/oauth2/applications/@me":
            return _json(
                {
                    "id": self.application_id,
                    "name": "goosuke-bot",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": self.bot,
                    "verify_key": "0" * 64,
                    "flags": 0,
                }
            )
        if route == "/users/@me/guilds":
            return _json([{**self._guild_payload(g), "owner": False, "permissions": "0"} for g in self.guilds])
        if route == "/gateway/bot":
            return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": {}})
        if route.startswith("/guilds/{id}"):
            return self._guild_route(route, ids, query)
        channel = self.channels.get(ids[0])
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        if ids[0] in self.forbidden:
            return _error(403, 50001, "Missing Access")
        if route == "/channels/{id}":
            return _json(channel)
        if route == "/channels/{id}/messages":
            return self._create_message(ids[0], body) if method == "POST" else self._history(ids[0], query)
        if route == "/channels/{id}/threads":
            return self._create_thread(ids[0], None, body)
        message = self.messages[ids[0]].get(ids[1])
        if message is None:
            return _error(404, 10008, "Unknown Message")
        if route == "/channels/{id}/messages/{id}/threads":
            return self._create_thread(ids[0], ids[1], body)
        if route == "/channels/{id}/messages/{id}/reactions/{emoji}/@me":
            self.reactions.append((ids[0], ids[1], unquote(ids[2])))
            name, _, emoji_id = unquote(ids[2]).partition(":")
            event = {
                "user_id": self.bot["id"],
                "channel_id": ids[0],
                "message_id": ids[1],
                "guild_id": channel["guild_id"],
                "emoji": {"id": emoji_id or None, "name": name, "animated": False},
                "type": 0,
                "burst": False,
                "member": self.members.get((channel["guild_id"], self.bot["id"])),
            }
            self._broadcast("MESSAGE_REACTION_ADD", event)  # Discord echoes the bot's own reactions
            return web.Response(status=204)
        if method == "GET":
            return _json(message)
        if method == "DELETE":
            del self.messages[ids[0]][ids[1]]
            return web.Response(status=204)
        if message["author"]["id"] != self.bot["id"]:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        if len(body.get("content") or "") > 2000:
            return self._too_long()
        message.update({k: v for k, v in body.items() if k in ("content", "embeds")})
        message["edited_timestamp"] = iso(datetime.now(UTC))
        return _json(message)

    @staticmethod
    def _too_long() -> web.Response:
        return _json(
            {
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {
                    "content": {
                        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
                    }
                },
            },
            400,
        )

    def _guild_route(self, route: str, ids: tuple[str, ...], query: Any) -> web.Response:
        if ids[0] not in self.guilds:
            return _error(404, 10004, "Unknown Guild")
        if route == "/guilds/{id}":
            return _json(self._guild_payload(ids[0]))
        if route == "/guilds/{id}/channels":
            return _json([c for c in self.channels.values() if c["guild_id"] == ids[0] and c["type"] != THREAD])
        if route == "/guilds/{id}/threads/active":
            threads = [c for c in self.channels.values() if c["guild_id"] == ids[0] and c["type"] == THREAD]
            return _json({"threads": threads, "members": []})
        if route == "/guilds/{id}/members/{id}":
            member = self.members.get((ids[0], ids[1]))
            return _json(member) if member else _error(404, 10007, "Unknown Member")
        return self._search(ids[0], query)

    def _history(self, channel_id: str, query: Any) -> web.Response:
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= 100:
            return _error(400, 50035, "Invalid Form Body: limit")
        ordered = self.history(channel_id)
        if "before" in query:
            pick = [m for m in ordered if int(m["id"]) < int(query["before"])][-limit:]
        elif "after" in query:
            pick = [m for m in ordered if int(m["id"]) > int(query["after"])][:limit]
        elif "around" in query:
            pivot = int(query["around"])
            older = [m for m in ordered if int(m["id"]) < pivot][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in ordered if int(m["id"]) >= pivot][: limit - len(older)]
            pick = older + newer
        else:
            pick = ordered[-limit:]
        return _json(list(reversed(pick)))  # Discord answers newest first

    def _create_message(self, channel_id: str, body: dict[str, Any]) -> web.Response:
        content = body.get("content") or ""
        if len(content) > 2000:
            return self._too_long()
        if not content and not body.get("embeds"):
            return _error(400, 50006, "Cannot send an empty message")
        reference = body.get("message_reference")
        if reference and reference.get("message_id") not in self.messages[channel_id]:
            if reference.get("fail_if_not_exists", True):
                return _error(400, 50035, "Invalid Form Body: message_reference: Unknown message")
            reference = None
        message = self._message(channel_id, self.bot["id"], content, embeds=body.get("embeds"), reference=reference)
        message["allowed_mentions"] = body.get("allowed_mentions")
        self._broadcast("MESSAGE_CREATE", message)
        return _json({k: v for k, v in message.items() if k != "allowed_mentions"})

    def _create_thread(self, channel_id: str, message_id: str | None, body: dict[str, Any]) -> web.Response:
        if message_id and message_id in self.channels:
            return _error(400, 160004, "A thread has already been created for this message")
        thread_id = self.add_thread(channel_id, body.get("name", "thread"), thread_id=message_id)
        return _json(self.channels[thread_id], 201)

    def _search(self, guild_id: str, query: Any) -> web.Response:
        if self.search_pending > 0:
            self.search_pending -= 1
            body = {
                "message": "Index not yet available. Try again later",
                "code": 110000,
                "documents_indexed": 0,
                "retry_after": 0.05,
            }
            return _json(body, 202)
        limit = int(query.get("limit", 25))
        offset = int(query.get("offset", 0))
        needle = (query.get("content") or "").lower()
        found = [
            m
            for cid, c in self.channels.items()
            if c["guild_id"] == guild_id and cid not in self.forbidden
            for m in self.history(cid)
            if needle in m["content"].lower()
            and ("author_id" not in query or m["author"]["id"] == query["author_id"])
            and ("channel_id" not in query or m["channel_id"] == query["channel_id"])
        ]
        found.sort(key=lambda m: -int(m["id"]))
        page = found[offset : offset + limit]
        return _json({"total_results": len(found), "messages": [[m] for m in page], "analytics_id": uuid.uuid4().hex})
