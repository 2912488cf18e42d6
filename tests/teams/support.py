"""Helpers for the team, role, token and audit tool tests: tool calls over the facade of a live hub."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import func, select

from hub.db.models import Base
from tests.conftest import LiveHub


async def tool(http: httpx2.AsyncClient, name: str, /, **arguments: Any) -> httpx2.Response:
    return await http.post(f"/api/tools/{name}", json=arguments)


async def ok(http: httpx2.AsyncClient, name: str, /, **arguments: Any) -> Any:
    """Call a tool that must succeed; its result."""
    response = await tool(http, name, **arguments)
    assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
    return response.json()


async def refused(http: httpx2.AsyncClient, name: str, status: int, /, **arguments: Any) -> str:
    """Call a tool that must fail with ``status``; the problem's detail."""
    response = await tool(http, name, **arguments)
    assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
    return str(response.json()["detail"])


async def user_token(hub: LiveHub, username: str, role: str = "member", **scope: Any) -> str:
    """A user with platform ``role`` (made by the admin over the facade) and an API token of theirs."""
    async with hub.http(hub.admin_token) as admin:
        await ok(admin, "user_create", username=username, password=f"{username}-password", role=role)
        scope.setdefault("role", "admin")  # a ceiling only: the user's grants cap it
        issued = await ok(admin, "token_create", name=f"{username}-token", username=username, **scope)
    return str(issued["token"])


async def count(hub: LiveHub, model: type[Base]) -> int:
    async with hub.context.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
