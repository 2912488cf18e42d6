"""teams: teams, memberships and custom roles; an owning team and a visibility on every shared object;
scoped API tokens; the audit log records the surface and denied calls

Revision ID: 0013
Revises: 0012

Existing data moves into the ``default`` team (id ``default``) with every existing user a member at
their current role, and every user gets a personal team (``@username``, they its owner). Objects
stay visible to exactly who saw them: shared objects become ``team`` objects of ``default`` (the
platform roles read every team, as before), executions become ``private`` to whoever started them
(and the owners of the trigger that did, as before).
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OWNED = ("templates", "runners", "extensions", "secrets", "actions", "discord_scopes", "delivery_destinations")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("personal_of", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["personal_of"], ["users.id"], name=op.f("fk_teams_personal_of_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
        sa.UniqueConstraint("personal_of", name=op.f("uq_teams_personal_of")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), server_default="hub", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_team_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_user_id"), "team_members", ["user_id"], unique=False)
    op.create_table(
        "roles",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), type_=sa.String(length=64))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), type_=sa.String(length=64))
        batch.add_column(sa.Column("team_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("permissions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tool_patterns", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("surface", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), server_default="ok", nullable=False))
    for table in (*OWNED, "executions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("team_id", sa.String(length=32), nullable=True))
            batch.add_column(sa.Column("visibility", sa.String(length=16), server_default="team", nullable=False))
            if table in ("executions", "extensions"):
                batch.add_column(sa.Column("created_by", sa.String(length=128), nullable=True))
        op.create_index(op.f(f"ix_{table}_team_id"), table, ["team_id"], unique=False)

    now = datetime.now(UTC)
    teams = sa.table(
        "teams",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("personal_of", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("created_by", sa.String),
    )
    members = sa.table(
        "team_members",
        sa.column("team_id", sa.String),
        sa.column("user_id", sa.String),
        sa.column("role", sa.String),
        sa.column("source", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    users = list(bind.execute(sa.text("SELECT id, username, role FROM users")))
    team_rows = [
        {"id": "default", "name": "default", "description": "Everything from before teams.", "personal_of": None}
    ]
    member_rows = []
    for user_id, username, role in users:
        personal = uuid.uuid4().hex
        team_rows.append({"id": personal, "name": f"@{username}", "description": "", "personal_of": user_id})
        member_rows.append({"team_id": "default", "user_id": user_id, "role": role})
        member_rows.append({"team_id": personal, "user_id": user_id, "role": "owner"})
    op.bulk_insert(teams, [{**row, "created_at": now, "created_by": "migration"} for row in team_rows])
    if member_rows:
        op.bulk_insert(members, [{**row, "source": "hub", "created_at": now} for row in member_rows])
    for table in OWNED:
        op.execute(sa.text(f"UPDATE {table} SET team_id = 'default', visibility = 'team'"))
    op.execute(sa.text("UPDATE extensions SET created_by = updated_by"))
    op.execute(
        sa.text(
            "UPDATE executions SET team_id = 'default', visibility = 'private', "
            "created_by = CASE WHEN trigger_kind IN ('mcp', 'api') THEN trigger_actor END"
        )
    )


def downgrade() -> None:
    for table in ("executions", *OWNED):
        op.drop_index(op.f(f"ix_{table}_team_id"), table_name=table)
        with op.batch_alter_table(table) as batch:
            if table in ("executions", "extensions"):
                batch.drop_column("created_by")
            batch.drop_column("visibility")
            batch.drop_column("team_id")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("outcome")
        batch.drop_column("surface")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("note")
        batch.drop_column("tool_patterns")
        batch.drop_column("permissions")
        batch.drop_column("team_ids")
        batch.alter_column("role", existing_type=sa.String(length=64), type_=sa.String(length=16))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=64), type_=sa.String(length=16))
    op.drop_table("roles")
    op.drop_index(op.f("ix_team_members_user_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
