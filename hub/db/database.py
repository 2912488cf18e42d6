"""Engine, sessions and Alembic migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000  # writers wait this long for the file lock instead of failing at once


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


class Database:
    """Owns the engine. ``async with db.session() as s:`` gives a session that commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        kwargs: dict[str, Any] = {}
        if self.kind == "sqlite":  # a local file: no connection to go stale, so no ping before each use
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not Path(path).exists():  # the database holds hashed tokens and sealed secrets: owner only
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.kind == "sqlite":
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a synchronous read ``fn(conn)`` (Core statements) on a pooled connection."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold a cluster-wide lock (PostgreSQL advisory lock) so replicas starting together migrate and
        bootstrap one at a time. SQLite serialises writers on its file lock already."""
        if self.kind != "postgresql":
            yield
            return
        key = int.from_bytes(hashlib.sha256(f"goosuke:{name}".encode()).digest()[:8], "big", signed=True)
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, revision: str = "heads") -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_alembic, "upgrade", revision)

    async def downgrade(self, revision: str = "base") -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_alembic, "downgrade", revision)

    async def current_revisions(self) -> set[str]:
        async with self.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))

    @staticmethod
    def head_revisions() -> set[str]:
        return set(ScriptDirectory.from_config(alembic_config()).get_heads())

    async def current_revision(self) -> str | None:
        """The applied revision(s), comma separated, or None on an empty database."""
        revisions = await self.current_revisions()
        return ",".join(sorted(revisions)) or None

    @classmethod
    def head_revision(cls) -> str:
        return ",".join(sorted(cls.head_revisions()))

    async def is_current(self) -> bool:
        return await self.current_revisions() == self.head_revisions()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _run_alembic(conn: Connection, direction: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    if direction == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
