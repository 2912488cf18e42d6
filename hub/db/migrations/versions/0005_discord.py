"""discord: per-guild/channel settings and allow-list, reaction runs

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discord_scopes",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("discord_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("kind", "discord_id", name=op.f("pk_discord_scopes")),
    )
    op.create_table(
        "discord_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("reactor", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("execution_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_discord_runs_action_id_actions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discord_runs")),
        sa.UniqueConstraint("action_id", "message_id", name="uq_discord_runs_action_id_message_id"),
    )
    with op.batch_alter_table("discord_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discord_runs_action_id"), ["action_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_discord_runs_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_discord_runs_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("discord_runs")
    op.drop_table("discord_scopes")
