"""template routes: templates name where their results go (deliver_to, announce_failures_to); executions
are indexed by finished_at, which the deliveries' catch-up scans

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("delivery", sa.JSON(), nullable=True))
    op.create_index(op.f("ix_executions_finished_at"), "executions", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_executions_finished_at"), table_name="executions")
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("delivery")
