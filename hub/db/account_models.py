"""The tables of who may do what: users, API tokens, teams, memberships, roles and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base, new_id, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # bumped by a password, role or disabled change: access tokens carrying an older one are refused (0008)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuthRevision(Base):
    """One row whose counter every credential change bumps, so each hub process notices within a poll
    (revoked API tokens, password/role/disabled changes made by another process; migration 0008)."""

    __tablename__ = "auth_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiToken(Base):
    """A long-lived bearer token. Only its SHA-256 is stored; the value is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    # scopes (migration 0013): none means "all the owner has"; never more than the owner's live grants
    team_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    permissions: Mapped[list[Any] | None] = mapped_column(JSON)
    tool_patterns: Mapped[list[Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Who did what to which thing, from which surface: every permission-relevant change and every denied call."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    surface: Mapped[str | None] = mapped_column(String(16))  # mcp, api, stdio, console, chat, cli (0013)
    outcome: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")  # ok or denied


class Team(Base):
    """A team: objects belong to one. Every user has a personal team; admins create shared ones (0013)."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    personal_of: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="system")


class TeamMember(Base):
    """A user's role within one team."""

    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="hub", server_default="hub")  # hub or idp
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoleRow(Base):
    """A custom role: a named set of permissions (the built-in ones live in ``hub.teams.permissions``)."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="system")


class UserIdentity(Base):
    """A user's account at an identity provider: the stable link OpenID Connect sign-in finds them by (0014)."""

    __tablename__ = "user_identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)  # as the last sign-in saw them
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A browser's sign-in to the console (``hub/console/sessions.py``; 0015). The cookie holds a random value;
    only its SHA-256 is stored, so reading this table never yields a live cookie."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))  # a pasted token
    credential: Mapped[str | None] = mapped_column(String(64))  # sha256 of the password hash signed in with
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
