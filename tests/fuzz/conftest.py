"""A real `goosuke serve` for the fuzzers, on SQLite and (when GOOSUKE_TEST_POSTGRES_URL is set) PostgreSQL,
with an API token per role and its reach bounded: no Goose binary, a Goose config.yaml in the test's folder,
short waits for runs and extensions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import start_blocking_portal

from harness.processes import free_port, hub_env, serving
from tests.conftest import BACKENDS, postgres_database

ROLES = ("admin", "operator", "viewer")
RANK = {role: rank for rank, role in enumerate(("viewer", "operator", "admin"))}


@dataclass(frozen=True)
class ServedHub:
    """A `goosuke serve` subprocess: its URL, a token per role and the role each tool needs."""

    url: str
    tokens: dict[str, str]
    tool_roles: dict[str, str]
    log: Path

    def allows(self, role: str, tool: str) -> bool:
        return RANK[role] >= RANK[self.tool_roles[tool]]

    def call(self, tool: str, arguments: dict[str, Any], role: str = "admin") -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx2.post(f"{self.url}/api/tools/{tool}", json=arguments, headers=headers, timeout=30)

    def assert_alive(self) -> None:
        """The hub still answers: /healthz, and a tool call with each role's token."""
        assert httpx2.get(f"{self.url}/healthz", timeout=10).status_code == 200, self.log.read_text()[-4000:]
        for role in ROLES:
            answer = self.call("whoami", {}, role)
            assert answer.status_code == 200, answer.text
            assert answer.json()["role"] == role


def bounded_env(data: Path, database_url: str) -> dict[str, str]:
    return hub_env(
        data,
        database_url,
        GOOSUKE_GOOSE_BIN=str(data / "no-goose-here"),
        GOOSUKE_GOOSE_CONFIG_PATH=str(data / "goose" / "config.yaml"),
        GOOSUKE_EXECUTION_WAIT_LIMIT="2",
        GOOSUKE_EXTENSION_START_TIMEOUT="5",
        GOOSUKE_LOG_LEVEL="WARNING",
    )


def _issue_tokens(url: str, admin: str) -> dict[str, str]:
    tokens = {"admin": admin}
    headers = {"Authorization": f"Bearer {admin}"}
    for role in ("operator", "viewer"):
        user = {"username": f"fuzz-{role}", "password": "fuzz-password", "role": role}
        created = httpx2.post(f"{url}/api/tools/user_create", json=user, headers=headers, timeout=30)
        assert created.status_code == 200, created.text
        token = {"name": f"fuzz-{role}", "role": role, "username": f"fuzz-{role}"}
        issued = httpx2.post(f"{url}/api/tools/token_create", json=token, headers=headers, timeout=30)
        assert issued.status_code == 200, issued.text
        tokens[role] = issued.json()["token"]
    return tokens


@pytest.fixture(scope="module", params=BACKENDS)
def served_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    data = tmp_path_factory.mktemp("fuzz-serve")
    with start_blocking_portal() as portal:
        if request.param == "sqlite":
            database = None
            url = f"sqlite+aiosqlite:///{data / 'goosuke.db'}"
        else:
            database = portal.wrap_async_context_manager(postgres_database())
            url = database.__enter__()
        try:
            port = free_port()
            log = data / "serve.log"
            with serving(bounded_env(data / "data", url), port, log=log):
                base = f"http://127.0.0.1:{port}"
                admin = (data / "data" / "admin.token").read_text().strip()
                tokens = _issue_tokens(base, admin)
                listed = httpx2.get(f"{base}/api/tools", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
                roles = {tool["name"]: tool["role"] for tool in listed.json()["tools"]}
                yield ServedHub(base, tokens, roles, log)
        finally:
            if database is not None:
                database.__exit__(None, None, None)
