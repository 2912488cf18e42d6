"""Custom roles through the real hub: defined, given hub-wide and in teams, changed (every token at once), deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.models import AuditEvent, RoleRow
from tests.conftest import LiveHub
from tests.teams.support import count, ok, refused, user_token

pytestmark = pytest.mark.anyio


async def test_roles_are_listed_built_in_ones_read_only(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as admin:
        listed = await ok(admin, "role_list")
        builtin = {r["name"]: r for r in listed["roles"] if r["builtin"]}
        assert set(builtin) == {"member", "viewer", "operator", "admin", "owner"}
        assert builtin["member"]["permissions"] == ["hub.read"]
        assert "audit.read" in listed["permissions"]
        unknown = await refused(
            admin, "role_create", 422, name="auditor", permissions=["audit.read", "audit.write", "x"]
        )
        assert "Unknown permission(s): audit.write, x" in unknown
        assert "built-in role" in await refused(admin, "role_create", 409, name="viewer", permissions=[])
        assert "built-in" in await refused(admin, "role_update", 403, name="operator", permissions=["hub.read"])
        assert "built-in" in await refused(admin, "role_delete", 403, name="admin")
        assert "No custom role" in await refused(admin, "role_update", 404, name="ghost", description="x")
        assert await count(live_hub, RoleRow) == 0  # nothing half-made
        made = await ok(admin, "role_create", name="auditor", description="Reads the log", permissions=["audit.read"])
        assert made == {
            "name": "auditor",
            "description": "Reads the log",
            "permissions": ["audit.read"],
            "builtin": False,
        }
        assert "exists already" in await refused(admin, "role_create", 409, name="auditor", permissions=[])
    viewer = await user_token(live_hub, "vic", role="viewer")
    async with live_hub.http(viewer) as as_viewer:
        assert "roles.manage" in await refused(as_viewer, "role_list", 403)


async def test_a_custom_role_changes_every_token_at_once(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as admin:
        await ok(admin, "role_create", name="reader", permissions=["hub.read", "templates.read", "teams.read"])
        await ok(admin, "role_create", name="lister", permissions=["hub.read", "teams.read"])
        unknown = await refused(admin, "user_create", 422, username="dan", password="dan-password", role="reeder")
        assert "Unknown role 'reeder'" in unknown and "reader" in unknown
        assert "owner is a team role" in await refused(
            admin, "user_create", 422, username="dan", password="dan-password", role="owner"
        )
        user = await ok(admin, "user_create", username="dan", password="dan-password", role="reader")
        assert user["role"] == "reader"
        token = (await ok(admin, "token_create", name="dan", username="dan", role="admin"))["token"]
        async with live_hub.http(token) as as_dan:
            me = await ok(as_dan, "whoami")
            assert me["platform_role"] == "reader" and me["permissions"] == ["hub.read", "teams.read", "templates.read"]
            assert (await ok(as_dan, "template_list"))["total"] >= 0
            updated = await ok(admin, "role_update", name="reader", permissions=["hub.read", "teams.read"])
            assert updated["permissions"] == ["hub.read", "teams.read"]
            assert "templates.read" in await refused(as_dan, "template_list", 403)  # the very next call
            # the role is in use: it cannot go
            in_use = await refused(admin, "role_delete", 409, name="reader")
            assert "users: dan" in in_use and "tokens" not in in_use
            # a custom team role, and a role change through user_update
            await ok(admin, "team_create", name="docs")
            await ok(admin, "team_member_add", team="docs", username="dan", role="lister")
            assert "memberships: dan in team docs" in await refused(admin, "role_delete", 409, name="lister")
            await ok(admin, "user_update", username="dan", role="member")
            assert "Unknown role" in await refused(admin, "user_update", 422, username="dan", role="nobody")
            deleted = await ok(admin, "role_delete", name="reader")
            assert deleted["name"] == "reader"
            assert (await ok(as_dan, "whoami"))["platform_role"] == "member"
    async with live_hub.context.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target.like("role:%")).order_by(AuditEvent.id)
            )
        )
    assert actions == ["role.create", "role.create", "role.update", "role.delete"]
