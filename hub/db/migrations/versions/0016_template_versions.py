"""template versions: every saved version of a template, for its history and diffs

Revision ID: 0016
Revises: 0015

The current version of every existing template becomes its first stored version (history starts here).
"""

import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FIELDS = ("name", "title", "description", "prompt", "instructions", "agent", "runner")
JSON_FIELDS = ("parameters", "extensions", "agent_settings", "tags", "delivery")
# a runner's settings, never a template's: a row not yet moved onto a runner (the Runners service does
# that at start-up, as a version of its own) keeps them out of its history
HOST_FIELDS = ("argv", "base_url", "api_key_secret", "provider", "options")


def _definition(row: Any) -> dict[str, Any]:
    """A template row as its stored definition (the shape ``TemplateDefinition.model_dump(mode="json")`` has)."""
    data = {key: getattr(row, key) for key in FIELDS}
    data["agent_settings"] = {k: v for k, v in (row.agent_settings or {}).items() if k not in HOST_FIELDS}
    data["tags"] = list(row.tags or [])
    data["parameters"] = list(row.parameters or [])
    data["extensions"] = list(row.extensions or [])
    data["deliver_to"] = (row.delivery or {}).get("deliver_to")
    data["announce_failures_to"] = (row.delivery or {}).get("announce_failures_to")
    return data


def upgrade() -> None:
    versions = op.create_table(
        "template_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_template_versions_template_id_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_versions")),
        sa.UniqueConstraint("template_id", "version", name="uq_template_versions_template_id_version"),
    )
    op.create_index(op.f("ix_template_versions_template_id"), "template_versions", ["template_id"], unique=False)
    templates = sa.table(
        "templates",
        *(sa.column(c) for c in ("id", "version", "updated_by", *FIELDS)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        *(sa.column(c, sa.JSON) for c in JSON_FIELDS),
    )
    rows = op.get_bind().execute(sa.select(templates)).all()
    if rows:
        op.bulk_insert(
            versions,
            [
                {
                    "id": uuid.uuid4().hex,
                    "template_id": row.id,
                    "version": row.version,
                    "definition": _definition(row),
                    "summary": "the version stored when history began",
                    "saved_at": row.updated_at,
                    "saved_by": row.updated_by,
                }
                for row in rows
            ],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_template_versions_template_id"), table_name="template_versions")
    op.drop_table("template_versions")
