"""credential revisions: users.token_version, the auth_revision counter, the webhook signature replay cache

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
    auth_revision = op.create_table(
        "auth_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_revision")),
    )
    op.bulk_insert(auth_revision, [{"id": 1, "revision": 0}])
    op.create_table(
        "webhook_signatures",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("execution_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_webhook_signatures_action_id_actions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_webhook_signatures")),
    )
    with op.batch_alter_table("webhook_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_signatures_action_id"), ["action_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_signatures_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("webhook_signatures")
    op.drop_table("auth_revision")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
