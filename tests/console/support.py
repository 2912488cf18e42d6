"""Helpers for the console's tests: users with passwords, a browser-like HTTP sign-in, the CSRF value of a page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2

from hub import accounts
from hub.db import Database
from hub.principal import Role

PASSWORD = "correct horse battery"


async def add_user(db: Database, username: str, role: Role | str, password: str = PASSWORD) -> None:
    async with db.session() as session:
        await accounts.create_user(session, username, password, role)


async def set_password(db: Database, username: str, password: str = PASSWORD) -> None:
    async with db.session() as session:
        await accounts.set_password(session, username, password)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(http: httpx2.AsyncClient, username: str, password: str = PASSWORD, base: str = "/ui") -> str:
    """Sign in through the form as a browser would; the dashboard's HTML."""
    page = await http.get(f"{base}/signin")
    assert page.status_code == 200, page.text
    response = await http.post(
        f"{base}/signin", data={"csrf": csrf_of(page.text), "username": username, "password": password}
    )
    assert response.status_code == 303, response.text
    dashboard = await http.get(response.headers["location"])
    assert dashboard.status_code == 200, dashboard.text
    return dashboard.text


def artifacts(tmp_path: Path, environ_dir: str | None) -> Path:
    """Where screenshots go: ``GOOSUKE_TEST_ARTIFACTS`` when set, else a folder of the test's tmp_path."""
    folder = Path(environ_dir) if environ_dir else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
