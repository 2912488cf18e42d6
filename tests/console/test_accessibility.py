"""Accessibility: axe-core, run in Chromium on every console page of a real `goosuke serve` with some data in it,
finds no violation of impact serious or critical. On both databases, like the other browser tests.

axe-core is the npm package pinned in `.ci/tools.sh` (``GOOSUKE_AXE_JS``). The pages' strict CSP forbids inline
scripts, so the browser context bypasses CSP to inject it; the pages themselves are unchanged. The live pages'
event stream is refused, so no section is swapped while axe reads the page (a swapped section is the same
partial template the page was rendered with).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from harness.tools import tool_path
from tests.console.support import PASSWORD
from tests.console.test_browser import WAIT_MS, Hub, add_templates, chromium, hub_process, shots, sign_in
from tests.extension_support import stdio_test_server

pytestmark = pytest.mark.anyio

SERIOUS = ("serious", "critical")
FILESYSTEM = "io.github.modelcontextprotocol/server-filesystem"
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }));
}"""


async def seed(hub: Hub) -> dict[str, str]:
    """Something on every page: runs that succeeded and failed, a webhook, a schedule, an extension, a token,
    a secret. The ids the pages' addresses need."""
    await add_templates(hub)
    await hub.tool("runner_create", name="boom", agent="command", argv=[sys.executable, "-c", "raise SystemExit(3)"])
    await hub.tool("template_update", name="shout", prompt="Say hi.\nThen say bye.")  # a second version
    await hub.tool("template_create", name="boom", title="Boom", prompt="Fail.", runner="boom")
    done = await hub.tool("template_run", name="shout", wait=30)
    await hub.tool("template_run", name="boom", wait=30)
    await hub.tool("webhook_create", name="gh", template="shout")
    await hub.tool("schedule_create", name="nightly", template="shout", cron="0 3 * * *")
    added = await hub.tool("extension_add", extension=stdio_test_server("toy"))
    assert added["start_error"] is None, added
    await hub.tool("token_create", name="ci", username="admin")
    await hub.tool("secret_set", name="TOY_TOKEN", value="toy-secret-value")
    return {"execution": str(done["id"])}


def pages(ids: dict[str, str]) -> list[str]:
    return [
        "/ui",
        "/ui/executions",
        f"/ui/executions/{ids['execution']}",
        "/ui/admin/users",
        "/ui/templates",
        "/ui/templates/-new",
        "/ui/templates/shout",
        "/ui/templates/shout/diff",
        "/ui/templates/meeting-summary",  # a built-in: read-only
        "/ui/extensions",
        "/ui/extensions?q=toy&sel=toy__echo",  # the tool search, one tool ticked
        "/ui/extensions/add",
        f"/ui/extensions/add?catalog={FILESYSTEM}",
        "/ui/extensions/toy/edit",
        "/ui/triggers",
        "/ui/triggers/webhooks/gh",
        "/ui/triggers/schedules/nightly",
        "/ui/admin",
        "/ui/admin/teams",
        "/ui/admin/teams/default",
        "/ui/admin/roles",
        "/ui/admin/tokens",
        "/ui/admin/runners",
        "/ui/admin/secrets",
        "/ui/admin/audit",
        "/ui/no-such-page",  # the error page
    ]


async def refuse(route: Route) -> None:
    await route.abort()


async def violations(page: Page, axe_js: Path) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(axe_js))
    found: list[dict[str, Any]] = await page.evaluate(AXE_RUN)
    return [v for v in found if v["impact"] in SERIOUS]


def described(failures: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for path, found in failures.items():
        for v in found:
            lines.append(f"{path}: {v['id']} ({v['impact']}) {v['help']}: {', '.join(v['targets'])}")
    return "\n".join(lines)


async def states(page: Page, hub: Hub) -> dict[str, list[dict[str, Any]]]:
    """Pages in the states a script or a refused form puts them in: errors beside fields, a value shown once,
    the editor's live preview and recommendations."""
    axe_js = tool_path("GOOSUKE_AXE_JS")
    found: dict[str, list[dict[str, Any]]] = {}
    await page.goto(f"{hub.url}/ui/admin/users")
    await page.fill("#new-username", "new-person")
    await page.fill("#new-password", "short")
    await page.click("#add-user")
    await expect(page.locator("#err-password")).to_be_visible()
    found["/ui/admin/users (a refused form)"] = await violations(page, axe_js)
    await page.goto(f"{hub.url}/ui/admin/tokens")
    await page.fill("#token-name", "once")
    await page.fill("#token-user", "admin")
    await page.click("#add-token")
    await expect(page.locator("#new-token")).to_contain_text("gsk_")
    found["/ui/admin/tokens (a token shown once)"] = await violations(page, axe_js)
    await page.goto(f"{hub.url}/ui/templates/-new")
    await page.fill("#tpl-name", "notes")
    await page.fill("#tpl-title", "Notes")
    await page.fill("#tpl-prompt", "Read the files in my notes directory for {{ who }}.")
    await expect(page.locator("#err-parameters")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#recommendations li").first).to_be_visible(timeout=WAIT_MS)
    found["/ui/templates/-new (live check and recommendations)"] = await violations(page, axe_js)
    return found


async def as_viewer(browser: Browser, hub: Hub, axe_js: Path) -> dict[str, list[dict[str, Any]]]:
    """The pages a viewer reads, without the forms, and the 403 page of an admin page."""
    hub.cli("user", "add", "vic", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    context = await browser.new_context(locale="en-US", bypass_csp=True)
    await context.route(re.compile(r"/ui/events(\?|$)"), refuse)
    page = await context.new_page()
    await sign_in(page, f"{hub.url}/ui/signin", "vic")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    found: dict[str, list[dict[str, Any]]] = {}
    for path in ("/ui", "/ui/executions", "/ui/templates", "/ui/triggers", "/ui/admin/tokens"):
        await page.goto(f"{hub.url}{path}")
        await expect(page.locator("main h1").first).to_be_visible()
        found[f"{path} (viewer)"] = await violations(page, axe_js)
    return found


async def test_axe_finds_no_serious_violation_on_any_page(tmp_path: Path, database_url: str, port: int) -> None:
    axe_js = tool_path("GOOSUKE_AXE_JS")
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    with hub_process(tmp_path, database_url, port) as hub:
        ids = await seed(hub)
        async with chromium() as browser:
            context = await browser.new_context(locale="en-US", bypass_csp=True)
            await context.route(re.compile(r"/ui/events(\?|$)"), refuse)  # no live swaps while axe reads a page
            page = await context.new_page()
            failures: dict[str, list[dict[str, Any]]] = {}
            await page.goto(f"{hub.url}/ui/signin")
            await expect(page.locator("#signin-password")).to_be_visible()
            failures["/ui/signin"] = await violations(page, axe_js)
            await sign_in(page, page.url)
            await expect(page.locator("h1")).to_have_text("Dashboard")
            for path in pages(ids):
                await page.goto(f"{hub.url}{path}")
                await expect(page.locator("main h1").first).to_be_visible()
                failures[path] = await violations(page, axe_js)
            failures |= await states(page, hub)
            await page.goto(f"{hub.url}/ui/no-such-page")
            await page.select_option("#lang-to", "ja")
            await page.click("form.lang button")
            await expect(page.locator("html")).to_have_attribute("lang", "ja")
            failures["/ui/no-such-page (ja)"] = await violations(page, axe_js)
            await page.goto(f"{hub.url}/ui")
            await expect(page.locator("h1")).to_have_text("ダッシュボード")
            failures["/ui (ja)"] = await violations(page, axe_js)
            await page.screenshot(path=shots(tmp_path, f"{prefix}-a11y-dashboard-ja.png"), full_page=True)
            failures |= await as_viewer(browser, hub, axe_js)
    failures = {path: found for path, found in failures.items() if found}
    assert not failures, "axe-core found serious or critical violations:\n" + described(failures)
