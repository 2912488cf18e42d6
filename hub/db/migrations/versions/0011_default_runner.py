"""default runner: runners.is_default marks the runner templates without an agent or runner use; the unused
hub_settings table (and its vault secrets, scope ``setting``) is dropped

Revision ID: 0011
Revises: 0010

At most one runner is marked (the hub unmarks the others when it marks one); with none marked the
default is the built-in ``goose`` runner. Templates may now leave ``agent`` unset (null): they run on
the default runner.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runners") as batch:
        batch.add_column(sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("templates") as batch:
        batch.alter_column("agent", existing_type=sa.String(length=32), nullable=True)
    secrets = sa.table("secrets", sa.column("scope", sa.String))
    op.execute(secrets.delete().where(secrets.c.scope == "setting"))
    op.drop_table("hub_settings")


def downgrade() -> None:
    op.create_table(
        "hub_settings",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hub_settings")),
    )
    templates = sa.table("templates", sa.column("agent", sa.String))
    op.execute(templates.update().where(templates.c.agent.is_(None)).values(agent="goose"))
    with op.batch_alter_table("templates") as batch:
        batch.alter_column("agent", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("runners") as batch:
        batch.drop_column("is_default")
