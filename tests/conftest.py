"""Shared fixtures: a database per test (SQLite, and PostgreSQL when GOOSUKE_TEST_POSTGRES_URL is set),
settings built from it, the hub served in process, and the hub served by uvicorn on a free port."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest
import uvicorn

from harness import REPO
from harness.processes import free_port
from hub import accounts
from hub.app import create_app
from hub.db import Database
from hub.principal import Role
from hub.settings import Settings

POSTGRES_URL = os.environ.get("GOOSUKE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def postgres_database(template: str | None = None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (empty, or a copy of ``template``), dropped afterwards."""
    assert POSTGRES_URL
    name = f"gsk_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_pg_dsn(POSTGRES_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    try:
        yield _pg_url(name)
    finally:
        admin = await asyncpg.connect(_pg_dsn(POSTGRES_URL))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _pg_url(name: str) -> str:
    assert POSTGRES_URL
    base = _pg_dsn(POSTGRES_URL).rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"


class _Templates:
    """Databases migrated to head once per test session; each test gets a copy (a file copy on SQLite,
    ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so a hub's start-up finds its schema current
    instead of running every migration again. Tests of the migrations themselves ask for
    ``empty_database_url``."""

    sqlite: Path | None = None
    postgres: str | None = None

    @classmethod
    async def sqlite_file(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        if cls.sqlite is None:
            path = tmp_path_factory.mktemp("template") / "goosuke.db"
            db = Database(f"sqlite+aiosqlite:///{path}")
            await db.migrate()
            await db.dispose()
            cls.sqlite = path
        return cls.sqlite

    @classmethod
    async def postgres_name(cls) -> str:
        if cls.postgres is None:
            name = f"gsk_template_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(_pg_dsn(POSTGRES_URL or ""))
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            db = Database(_pg_url(name))
            await db.migrate()
            await db.dispose()
            cls.postgres = name
        return cls.postgres


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _Templates.postgres is not None:
        name = _Templates.postgres

        async def drop() -> None:
            admin = await asyncpg.connect(_pg_dsn(POSTGRES_URL or ""))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        asyncio.run(drop())


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database already migrated to head, for this test alone."""
    if request.param == "sqlite":
        shutil.copyfile(await _Templates.sqlite_file(tmp_path_factory), tmp_path / "goosuke.db")
        yield f"sqlite+aiosqlite:///{tmp_path / 'goosuke.db'}"
    else:
        async with postgres_database(await _Templates.postgres_name()) as url:
            yield url


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no migration run), for the tests of the migrations themselves."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        async with postgres_database() as url:
            yield url


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        port=port,
        jwt_secret="test-signing-key-that-is-long-enough-for-hs256",
        sse_ping_interval=0.2,
    )


@asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:port inside the running event loop."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class LiveHub:
    """A hub served on a real socket, with an admin token and helpers to make more principals."""

    def __init__(self, url: str, app: Any, admin_token: str) -> None:
        self.url = url
        self.app = app
        self.admin_token = admin_token

    @property
    def context(self) -> Any:
        return self.app.state.goosuke

    def http(self, token: str | None = None, **kwargs: Any) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs.setdefault("timeout", 30)
        return httpx2.AsyncClient(base_url=self.url, headers=headers, **kwargs)

    async def token(self, role: Role, name: str | None = None) -> str:
        async with self.context.db.session() as session:
            _, value = await accounts.create_token(session, name or f"{role.value}-token", role)
        return value


@pytest.fixture
async def live_hub(settings: Settings) -> AsyncIterator[LiveHub]:
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        token = (settings.data_dir / "admin.token").read_text().strip()
        yield LiveHub(url, app, token)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOSUKE_")}
    env["GOOSUKE_DATA_DIR"] = str(tmp_path / "cli-data")
    yield env


@pytest.fixture
async def discord() -> AsyncIterator[Any]:
    """A Discord double (REST + gateway over real sockets) on a free port."""
    from harness.doubles.discord import DiscordDouble

    async with DiscordDouble() as double:
        yield double


@pytest.fixture
def world(discord: Any) -> Any:
    """The double's guild, channels and members (tests.discord.support.World)."""
    from tests.discord.support import build_world

    return build_world(discord)
