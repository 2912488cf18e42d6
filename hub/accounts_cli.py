"""`goosuke user`, `goosuke token` and `goosuke team`: accounts from the command line.

Each command applies the same checks as its tool (``user_create``, ``token_create``, ``team_list``): a role
is a built-in or custom one (``hub.teams.roles.check_role``), a token's scope never exceeds what its owner
holds now (``hub.teams.tokens.check_scope``). Every check runs before anything is written, so a refusal
(exit status 2, the reason on stderr) changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from hub import accounts
from hub.db import Database
from hub.errors import GoosukeError, InvalidArguments
from hub.settings import Settings

MAX_TOKEN_NAME = 128
MAX_NOTE = 1000  # the token_create tool's bounds
ROLE_HELP = "member, viewer, operator, admin or a custom role (role_list)"

Command = Callable[[Database, argparse.Namespace], Awaitable[None]]


def _run(settings: Settings, command: Command, args: argparse.Namespace) -> None:
    """``command`` on the hub's database, migrated first (the CLI may run before the first ``serve``)."""

    async def main() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            await command(db, args)
        finally:
            await db.dispose()

    asyncio.run(main())


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise GoosukeError("The passwords differ; try again.")
    return first


async def user(db: Database, args: argparse.Namespace) -> None:
    from hub.teams.roles import check_role

    async with db.session() as session:
        if args.action == "add":
            role = await check_role(session, args.role, platform=True)  # before the password is asked for
            created = await accounts.create_user(session, args.username, _password(args), role, actor="cli")
            print(f"created user {created.username} ({created.role})")
        elif args.action == "passwd":
            await accounts.set_password(session, args.username, _password(args), actor="cli")
            print(f"password of {args.username} changed")
        else:
            for row in await accounts.list_users(session):
                state = " (disabled)" if row.disabled else ""
                print(f"{row.username}\t{row.role}{state}")


def _check_lengths(args: argparse.Namespace) -> None:
    if not args.name or len(args.name) > MAX_TOKEN_NAME:
        raise InvalidArguments(f"A token's name has 1 to {MAX_TOKEN_NAME} characters, e.g. ci or goose.")
    if args.note is not None and len(args.note) > MAX_NOTE:
        raise InvalidArguments(f"--note has at most {MAX_NOTE} characters.")


async def _create_token(db: Database, args: argparse.Namespace) -> None:
    from hub.teams.tokens import issue_token

    _check_lengths(args)
    async with db.session() as session:
        row, value = await issue_token(
            session,
            username=args.user,
            name=args.name,
            role=args.role,
            teams=args.team,
            permissions=args.permission,
            tool_patterns=args.tool,
            expires_in_days=args.expires_days,
            note=args.note,
            actor="cli",
        )
    limits = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("teams", sorted(args.team or ()) if row.team_ids is not None else None),
            ("permissions", row.permissions),
            ("tools", row.tool_patterns),
        )
        if values is not None
    ]
    scoped = f", limited to {'; '.join(limits)}" if limits else ""
    print(value)
    print(f"token {row.id} ({row.role}{scoped}) created; the value above is shown only once", file=sys.stderr)


async def token(db: Database, args: argparse.Namespace) -> None:
    if args.action == "create":
        await _create_token(db, args)
        return
    async with db.session() as session:
        if args.action == "revoke":
            await accounts.revoke_token(session, args.id, actor="cli")
            print(f"token {args.id} revoked")
        else:
            for row in await accounts.list_tokens(session):
                state = "revoked" if row.revoked_at else "active"
                print(f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}...\t{state}")


async def team(db: Database, args: argparse.Namespace) -> None:
    from hub.db.models import Team
    from hub.teams.lookup import member_counts

    async with db.session() as session:
        rows = list(await session.scalars(select(Team).order_by(Team.name)))
        counts = await member_counts(session, [row.id for row in rows])
    for row in rows:
        print(f"{row.name}\t{row.id}\t{counts.get(row.id, 0)} member(s)")


def add_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], Settings],
) -> None:
    """The ``user``, ``token`` and ``team`` subcommands (``settings_of(args)``: the settings they run with)."""

    def runs(command: Command) -> Callable[[argparse.Namespace], None]:
        return lambda args: _run(settings_of(args), command, args)

    users = sub.add_parser("user", help="manage users")
    user_sub = users.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add")
    add.add_argument("username")
    add.add_argument("--role", default="viewer", help=f"the platform role: {ROLE_HELP} (default viewer)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = user_sub.add_parser("passwd")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    user_list = user_sub.add_parser("list")
    for sp in (add, passwd, user_list, users):
        common(sp)
    users.set_defaults(fn=runs(user))

    tokens = sub.add_parser("token", help="manage API tokens")
    token_sub = tokens.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create")
    create.add_argument("name")
    create.add_argument(
        "--role",
        help=f"the token's ceiling role: {ROLE_HELP}, or owner. Left out: viewer, or with --permission, "
        "no ceiling but those permissions",
    )
    create.add_argument("--user", required=True, help="the existing user the token belongs to (it stops with them)")
    create.add_argument("--expires-days", type=int, help="the token stops working after this many days")
    create.add_argument(
        "--team", action="append", help="limit the token to this team (a name; repeatable); the user must be in it"
    )
    create.add_argument(
        "--permission", action="append", help="limit the token to this permission (repeatable); the user must hold it"
    )
    create.add_argument(
        "--tool", action="append", help="limit the token to tools matching this pattern, e.g. 'template_*' (repeatable)"
    )
    create.add_argument("--note", help="what the token is for (at most 1000 characters)")
    revoke = token_sub.add_parser("revoke")
    revoke.add_argument("id")
    token_list = token_sub.add_parser("list")
    for sp in (create, revoke, token_list, tokens):
        common(sp)
    tokens.set_defaults(fn=runs(token))

    teams = sub.add_parser("team", help="list teams")
    team_sub = teams.add_subparsers(dest="action", required=True)
    team_list = team_sub.add_parser("list", help="every team: name, id, number of members")
    for sp in (team_list, teams):
        common(sp)
    teams.set_defaults(fn=runs(team))
