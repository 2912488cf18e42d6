"""The database: migrations up and down on SQLite and PostgreSQL, SQLite's pragmas."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from hub.db import Database
from hub.db.models import Base

pytestmark = pytest.mark.anyio


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migrations_go_up_to_head_and_down_to_base(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        assert await db.current_revision() is None
        await db.migrate()
        assert await db.is_current()
        assert set(Base.metadata.tables) <= await _tables(db)
        await db.downgrade("base")
        assert await db.current_revision() is None
        assert await _tables(db) <= {"alembic_version"}
        await db.migrate()
        assert await db.is_current()
    finally:
        await db.dispose()


async def test_migrations_match_the_models(empty_database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations create exactly what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(empty_database_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
    finally:
        await db.dispose()


async def test_sqlite_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
    finally:
        await db.dispose()
