"""builtin templates: templates.builtin marks the read-only library templates the hub itself updates

Revision ID: 0009
Revises: 0008

A library template that nobody changed (its content hash is still the seeded one) becomes built-in;
one a user changed before this release keeps its content as an ordinary template of that name.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("builtin", sa.Boolean(), server_default=sa.false(), nullable=False))
    templates = sa.table(
        "templates",
        sa.column("name", sa.String),
        sa.column("content_hash", sa.String),
        sa.column("builtin", sa.Boolean),
    )
    seeds = sa.table("template_seeds", sa.column("name", sa.String), sa.column("content_hash", sa.String))
    unchanged = (
        sa.select(seeds.c.name)
        .where(seeds.c.name == templates.c.name, seeds.c.content_hash == templates.c.content_hash)
        .exists()
    )
    op.execute(templates.update().where(unchanged).values(builtin=True))


def downgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("builtin")
