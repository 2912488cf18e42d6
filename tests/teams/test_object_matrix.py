"""The object matrix: every kind of team object, each visibility, and a caller who made it, a teammate,
a member of another team and a teammate without the permission — over MCP and the facade, exactly the
allowed outcome, and a denial row in the audit log for every refused get."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func, select

from hub.db.models import AuditEvent
from tests.conftest import LiveHub
from tests.engine_support import execution_row
from tests.extension_support import stdio_test_server
from tests.teams_support import make_team, make_user

pytestmark = pytest.mark.anyio

VISIBILITIES = ("private", "team", "public")
# who: the team role in team A (or B), and which visibilities that caller may see
CALLERS: dict[str, tuple[str, str, set[str]]] = {
    "maker": ("A", "admin", set(VISIBILITIES)),
    "mate": ("A", "admin", {"team", "public"}),
    "other": ("B", "admin", {"public"}),
    "outsider": ("A", "member", set()),  # in the team, without the permission: the tool gate refuses
}


@dataclass(frozen=True)
class Kind:
    create: str
    args: Callable[[str], dict[str, Any]]
    listing: str
    key: str  # the list field and the item field naming an object
    item: str
    get: str | None
    visibilities: tuple[str, ...] = VISIBILITIES


KINDS: dict[str, Kind] = {
    "template": Kind(
        "template_create",
        lambda name: {"name": name, "title": name, "prompt": "Say hello"},
        "template_list",
        "templates",
        "name",
        "template_get",
    ),
    "runner": Kind(
        "runner_create",
        lambda name: {"name": name, "agent": "command", "argv": [sys.executable, "-c", "print(1)"]},
        "runner_list",
        "runners",
        "name",
        "runner_get",
    ),
    "extension": Kind(
        "extension_add",
        lambda name: {"extension": stdio_test_server(name), "start": False},
        "extension_list",
        "extensions",
        "key",
        "extension_get",
    ),
    "secret": Kind(
        "secret_set",
        lambda name: {"name": name.upper().replace("-", "_"), "value": f"value-of-{name}"},
        "secret_list",
        "secrets",
        "name",
        None,
        ("private", "team"),  # a public secret is refused: see tests/vault/test_secret_teams.py
    ),
    "schedule": Kind(
        "schedule_create",
        lambda name: {"name": name, "template": BOUND, "cron": "0 3 * * *"},
        "schedule_list",
        "schedules",
        "name",
        "schedule_get",
    ),
    "webhook": Kind(
        "webhook_create",
        lambda name: {"name": name, "template": BOUND, "auth": "token", "mapping": {}},
        "webhook_list",
        "webhooks",
        "name",
        None,
    ),
    "reaction binding": Kind(
        "discord_reaction_create",
        lambda name: {"name": name, "template": BOUND, "emojis": ["📌"]},
        "discord_reaction_list",
        "bindings",
        "name",
        None,
    ),
    "destination": Kind(
        "destination_create",
        lambda name: {"name": name, "discord": {"channel_id": "123456789012345678"}},
        "destination_list",
        "destinations",
        "name",
        "destination_get",
    ),
}
BOUND = "bound"  # the template team A's triggers start


def object_name(kind: str, visibility: str) -> str:
    name = f"{kind.replace(' ', '')}-{visibility}"
    return name.upper().replace("-", "_") if kind == "secret" else name.replace("-", "")


async def _denied(hub: LiveHub, actor: str, target: str) -> int:
    async with hub.context.db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.actor == actor, AuditEvent.target == target, AuditEvent.outcome == "denied")
            )
            or 0
        )


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_each_visibility_reaches_exactly_who_it_should(live_hub: LiveHub, kind: str) -> None:
    spec = KINDS[kind]
    db = live_hub.context.db
    teams = {"A": await make_team(db, "team-a"), "B": await make_team(db, "team-b")}
    tokens = {who: await make_user(db, who, teams={teams[team]: role}) for who, (team, role, _) in CALLERS.items()}
    names = {v: object_name(kind, v) for v in spec.visibilities}
    async with live_hub.http(tokens["maker"]) as maker:
        bound = {"name": BOUND, "title": "Bound", "prompt": "Say hello", "team": "team-a"}
        assert (await maker.post("/api/tools/template_create", json=bound)).status_code == 200
        for visibility, name in names.items():
            args = spec.args(name.lower() if kind == "extension" else name)
            made = await maker.post(
                f"/api/tools/{spec.create}", json={**args, "team": "team-a", "visibility": visibility}
            )
            assert made.status_code == 200, (kind, visibility, made.text)

    for who, (_, _, sees) in CALLERS.items():
        expected = {names[v] for v in spec.visibilities if v in sees}
        async with (
            live_hub.http(tokens[who]) as http,
            Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
        ):
            listed = await http.post(f"/api/tools/{spec.listing}", json={})
            if who == "outsider":
                assert listed.status_code == 403, listed.text
            else:
                found = {item[spec.item] for item in listed.json()[spec.key]} & set(names.values())
                assert found == expected, (kind, who, found)
            if spec.get is None:
                continue
            for visibility, name in names.items():
                mcp = await client.call_tool(spec.get, {"name": name})
                api = await http.post(f"/api/tools/{spec.get}", json={"name": name})
                if name in expected:
                    assert not mcp.is_error and api.status_code == 200, (kind, who, visibility, api.text)
                else:
                    assert mcp.is_error and api.status_code in (403, 404), (kind, who, visibility, api.text)
                    text = mcp.content[0].text  # type: ignore[union-attr]
                    assert "No " in text or "permission" in text, text
                    assert await _denied(live_hub, who, f"tool:{spec.get}") >= 2


async def test_each_execution_visibility_reaches_exactly_who_it_should(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    teams = {"A": await make_team(db, "team-a"), "B": await make_team(db, "team-b")}
    tokens = {who: await make_user(db, who, teams={teams[team]: role}) for who, (team, role, _) in CALLERS.items()}
    runs = {
        v: execution_row("t", team_id=teams["A"], visibility=v, created_by="maker", trigger_actor="maker")
        for v in VISIBILITIES
    }
    async with db.session() as session:
        session.add_all(runs.values())
    for who, (_, _, sees) in CALLERS.items():
        expected = {runs[v].id for v in VISIBILITIES if v in sees}
        async with (
            live_hub.http(tokens[who]) as http,
            Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
        ):
            listed = await http.post("/api/tools/execution_list", json={})
            if who == "outsider":
                assert listed.status_code == 403, listed.text
            else:
                assert {e["id"] for e in listed.json()["executions"]} == expected, who
            for visibility, run in runs.items():
                mcp = await client.call_tool("execution_get", {"id": run.id})
                api = await http.post("/api/tools/execution_get", json={"id": run.id})
                assert (not mcp.is_error, api.status_code == 200) == (run.id in expected,) * 2, (who, visibility)
        if who != "maker":
            assert await _denied(live_hub, who, "tool:execution_get") == 2 * (len(VISIBILITIES) - len(sees))
