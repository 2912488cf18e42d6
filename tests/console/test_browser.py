"""The console in a real browser: Chromium (Debian's) driven by Playwright against a real `goosuke serve`.

Each page is screenshotted into the artifact folder (``GOOSUKE_TEST_ARTIFACTS``, else the test's tmp_path).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from harness import REPO
from harness.processes import GOOSUKE, free_port, hub_env, serving
from tests.conftest import serve
from tests.console.proxy import PrefixProxy
from tests.console.support import PASSWORD, artifacts

pytestmark = pytest.mark.anyio

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 20_000  # how long an expectation waits for the page to change by itself (live updates)
ECHO = "import sys; print('echo:' + sys.stdin.read())"
SLOW = "import sys, time; print('started', flush=True); time.sleep(120)"


@dataclass
class Hub:
    url: str  # where the test's own HTTP calls reach the hub directly
    admin_token: str
    data: Path
    env: dict[str, str]

    async def tool(self, tool: str, /, **arguments: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http:
            response = await http.post(f"/api/tools/{tool}", json=arguments)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def cli(self, *args: str, stdin: str = "") -> None:
        subprocess.run([*GOOSUKE, *args], env=self.env, input=stdin.encode(), check=True, cwd=REPO, timeout=60)


@contextmanager
def hub_process(tmp_path: Path, database_url: str, port: int, **extra: str) -> Iterator[Hub]:
    data = tmp_path / "data"
    env = hub_env(data, database_url, GOOSUKE_CONSOLE_REFRESH_INTERVAL="0.3", **extra)
    with serving(env, port, log=tmp_path / "serve.log"):
        hub = Hub(f"http://127.0.0.1:{port}", (data / "admin.token").read_text().strip(), data, env)
        hub.cli("user", "passwd", "admin", "--password-stdin", stdin=PASSWORD + "\n")
        yield hub


async def add_templates(hub: Hub) -> None:
    """An echoing template (`shout`) and one that runs until cancelled (`nap`), on command runners."""
    await hub.tool("runner_create", name="echo", agent="command", argv=[sys.executable, "-c", ECHO])
    await hub.tool("runner_create", name="slow", agent="command", argv=[sys.executable, "-c", SLOW], max_timeout=300)
    await hub.tool("template_create", name="shout", title="Shout", prompt="Say hi.", runner="echo")
    await hub.tool("template_create", name="nap", title="Nap", prompt="Sleep.", runner="slow")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; .ci/run does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def shots(tmp_path: Path, name: str) -> Path:
    return artifacts(tmp_path, os.environ.get("GOOSUKE_TEST_ARTIFACTS")) / name


async def sign_in(page: Page, start: str, username: str = "admin") -> None:
    await page.goto(start)
    await expect(page.locator("#signin-password")).to_be_visible()
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#signin-password")


async def live(page: Page) -> None:
    await expect(page.locator("#live-state")).to_have_attribute("data-connected", "yes", timeout=WAIT_MS)


async def test_sign_in_watch_runs_live_cancel_one_and_refuse_a_stale_form(
    tmp_path: Path, database_url: str, port: int
) -> None:
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    with hub_process(tmp_path, database_url, port) as hub:
        await add_templates(hub)
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await page.goto(f"{hub.url}/ui")
            await expect(page).to_have_url(f"{hub.url}/ui/signin?next=%2Fui")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-signin.png"), full_page=True)
            await sign_in(page, page.url)
            await expect(page.locator("h1")).to_have_text("Dashboard")
            await live(page)
            await page.evaluate("window.stayed = true")  # gone if the page reloads
            await expect(page.locator("[data-count=succeeded]")).to_have_text("0")

            done = await hub.tool("template_run", name="shout", wait=30)
            assert done["status"] == "succeeded", done
            await expect(page.locator("[data-count=succeeded]")).to_have_text("1", timeout=WAIT_MS)
            assert await page.evaluate("window.stayed === true")
            await expect(page.locator("#calls-spark")).to_be_visible()  # the tool-call chart renders (CSP: inline SVG)
            await expect(page.locator("#calls-spark polyline")).to_have_count(1)
            await page.screenshot(path=shots(tmp_path, f"{prefix}-dashboard.png"), full_page=True)

            await page.click("nav >> text=Executions")
            await page.select_option("#f-status", "succeeded")
            await page.click("form.filters button")
            await expect(page.locator("table.list tbody tr")).to_have_count(1)
            await page.screenshot(path=shots(tmp_path, f"{prefix}-executions.png"), full_page=True)
            await page.click("table.list tbody a")
            await expect(page.locator("#output")).to_have_text("echo:Say hi.\n")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-execution.png"), full_page=True)

            nap = await hub.tool("template_run", name="nap")
            await page.goto(f"{hub.url}/ui/executions/{nap['id']}")
            await expect(page.locator("#log")).to_contain_text("started", timeout=WAIT_MS)  # arrives live
            await expect(page.locator(".status-line .state")).to_have_text("running")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-execution-running.png"), full_page=True)
            await page.click("#cancel")
            await expect(page.locator(".status-line .state")).to_have_text("cancelled", timeout=WAIT_MS)
            assert (await hub.tool("execution_get", id=nap["id"]))["status"] == "cancelled"

            await page.click("nav >> text=Users")
            await page.fill("#new-username", "new-person")
            await page.fill("#new-password", "short")
            await page.fill("#new-role", "operator")
            await page.click("#add-user")
            await expect(page.locator("#err-password")).to_contain_text("at least 8")
            await expect(page.locator("#new-username")).to_have_value("new-person")
            await expect(page.locator("#new-role")).to_have_value("operator")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-users-form-error.png"), full_page=True)
            await page.goto(f"{hub.url}/ui/executions/{nap['id']}")

            await page.select_option("#lang-to", "ja")
            await page.click("form.lang button")
            await expect(page.locator("#retry")).to_have_text("再実行")
            await page.goto(f"{hub.url}/ui")
            await expect(page.locator("h1")).to_have_text("ダッシュボード")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-dashboard-ja.png"), full_page=True)

            await page.goto(f"{hub.url}/ui/executions/{nap['id']}")
            await page.evaluate("document.querySelector('#retry').form.csrf.value = 'stale'")
            await page.click("#retry")
            await expect(page).to_have_url(f"{hub.url}/ui/signin?next=%2Fui%2Fexecutions%2F{nap['id']}&reason=stale")
            await expect(page.locator(".note.warn")).to_be_visible()
            assert (await hub.tool("execution_list", template="nap"))["total"] == 1  # nothing was retried


async def test_a_viewer_sees_no_admin_page_and_cannot_cancel(tmp_path: Path, database_url: str, port: int) -> None:
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    with hub_process(tmp_path, database_url, port) as hub:
        await add_templates(hub)
        hub.cli("user", "add", "vic", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
        nap = await hub.tool("template_run", name="nap", visibility="public")
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await sign_in(page, f"{hub.url}/ui/signin", "vic")
            await expect(page.locator("h1")).to_have_text("Dashboard")
            await expect(page.locator("nav a.admin")).to_have_count(0)
            response = await page.goto(f"{hub.url}/ui/admin/users")
            assert response is not None and response.status == 403
            await expect(page.locator("h1")).to_have_text("You may not open this page")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-viewer-403.png"), full_page=True)
            await page.goto(f"{hub.url}/ui/executions/{nap['id']}")
            await expect(page.locator(".status-line .state")).to_be_visible()
            await expect(page.locator("#cancel")).to_have_count(0)  # a viewer may not cancel: no button
        await hub.tool("execution_cancel", id=nap["id"])


async def test_the_whole_flow_works_under_a_sub_path_behind_a_proxy(
    tmp_path: Path, database_url: str, port: int
) -> None:
    proxy_port = free_port()
    public = f"http://127.0.0.1:{proxy_port}/goosuke"
    with hub_process(tmp_path, database_url, port, GOOSUKE_PUBLIC_URL=public) as hub:
        await add_templates(hub)
        proxy = PrefixProxy(hub.url, "/goosuke")
        async with serve(proxy, proxy_port), chromium() as browser:
            page = await browser.new_page(locale="en-US", extra_http_headers={"Accept-Language": "en"})
            failed: list[str] = []
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            await page.goto(f"{public}/")  # the hub's address: a browser lands on the console's sign-in
            await expect(page).to_have_url(f"{public}/ui/signin?next=%2Fgoosuke%2Fui")
            await sign_in(page, page.url)
            await expect(page).to_have_url(f"{public}/ui")
            await live(page)  # the event stream, through the proxy
            header = await page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
            assert header == "rgb(23, 32, 46)"  # the stylesheet came through the prefix
            await hub.tool("template_run", name="shout", wait=30)
            await expect(page.locator("[data-count=succeeded]")).to_have_text("1", timeout=WAIT_MS)
            await page.screenshot(path=shots(tmp_path, "subpath-dashboard.png"), full_page=True)
            await page.click("nav >> text=Executions")
            await page.click("table.list tbody a")
            await expect(page.locator("#output")).to_have_text("echo:Say hi.\n")
            await page.click("#retry")
            detail = re.compile(rf"{re.escape(public)}/ui/executions/[0-9a-f]+$")
            await expect(page).to_have_url(detail, timeout=WAIT_MS)
            await expect(page.locator("#output")).to_have_text("echo:Say hi.\n", timeout=WAIT_MS)
            await page.click("header button.link")  # sign out
            await expect(page).to_have_url(f"{public}/ui/signin?reason=signed_out")
            await page.select_option("#lang-to", "ja")
            await page.click("form.lang button")
            await expect(page.locator("h1")).to_have_text("サインイン")
            await page.screenshot(path=shots(tmp_path, "subpath-signin-ja.png"), full_page=True)
        assert proxy.outside == [] and failed == []
