"""runners: admin-defined agents' host settings; templates name a runner (the Runners service adopts legacy ones)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runners",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_runners")),
    )
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("runner", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_templates_runner"), ["runner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.drop_index(batch.f("ix_templates_runner"))
        batch.drop_column("runner")
    op.drop_table("runners")
