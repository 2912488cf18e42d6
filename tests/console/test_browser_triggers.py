"""The trigger and admin pages in a real browser: Chromium against a real `goosuke serve`, on both databases.

A webhook made in the console receives a signed delivery from an HTTP client, and the delivery and its
execution appear on the open page without a reload; a new API token's value is shown once; a viewer sees
no admin navigation and is refused an admin form.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from playwright.async_api import expect

from hub.triggers.webhooks import sign_github
from tests.console.support import PASSWORD
from tests.console.test_browser import WAIT_MS, add_templates, chromium, hub_process, live, shots, sign_in

pytestmark = pytest.mark.anyio


async def test_a_webhook_made_in_the_console_shows_its_delivery_and_run_live(
    tmp_path: Path, database_url: str, port: int
) -> None:
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    with hub_process(tmp_path, database_url, port) as hub:
        await add_templates(hub)
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await sign_in(page, f"{hub.url}/ui/signin")
            await expect(page.locator("h1")).to_have_text("Dashboard")
            await page.click("nav >> text=Triggers")
            await expect(page.locator("h1")).to_have_text("Triggers")
            await page.fill("#hook-name", "gh")
            await page.fill("#hook-template", "no-such-template")
            await page.click("#add-webhook")
            await expect(page.locator("#err-template")).to_be_visible()  # refused, input kept
            await expect(page.locator("#hook-name")).to_have_value("gh")
            await page.fill("#hook-template", "shout")
            await page.select_option("#hook-auth", "github")
            await page.click("#add-webhook")
            await expect(page.locator("h1")).to_have_text("Webhook gh")
            await expect(page.locator("#hook-url")).to_have_text(f"{hub.url}/hooks/gh")
            secret = (await page.locator("#secret").inner_text()).strip()
            assert secret
            await live(page)
            await page.evaluate("window.stayed = true")  # gone if the page reloads
            await expect(page.locator("#live")).to_contain_text("Nothing yet.")

            body = json.dumps({"action": "opened"}).encode()
            headers = {
                "X-Hub-Signature-256": sign_github(secret, body),
                "X-GitHub-Delivery": "d-1",
                "Content-Type": "application/json",
            }
            async with httpx2.AsyncClient(base_url=hub.url, timeout=60) as http:
                delivered = await http.post("/hooks/gh", content=body, headers=headers)
            assert delivered.status_code == 202, delivered.text
            run = delivered.json()["execution_id"]

            row = page.locator("#live table.firings tbody tr")
            await expect(row).to_have_count(1, timeout=WAIT_MS)
            await expect(row).to_contain_text("queued")
            await expect(row).to_contain_text("d-1")
            await expect(row.locator(".state")).to_have_text("succeeded", timeout=WAIT_MS)
            assert await page.evaluate("window.stayed === true")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-webhook-live.png"), full_page=True)

            await page.goto(f"{hub.url}/ui/triggers/webhooks/gh")  # opened again: the secret is gone
            await expect(page.locator("#hook-url")).to_be_visible()
            await expect(page.locator("#secret")).to_have_count(0)
            assert secret not in await page.content()
            await page.click(f"#live a[href='/ui/executions/{run}']")
            await expect(page.locator("#output")).to_have_text("echo:Say hi.\n", timeout=WAIT_MS)
            await page.goto(f"{hub.url}/ui/triggers")
            await expect(page.locator("#webhooks")).to_contain_text(f"{hub.url}/hooks/gh")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-triggers.png"), full_page=True)


async def test_a_token_is_shown_once_and_a_viewer_gets_no_admin(tmp_path: Path, database_url: str, port: int) -> None:
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    with hub_process(tmp_path, database_url, port) as hub:
        hub.cli("user", "add", "vic", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await sign_in(page, f"{hub.url}/ui/signin")
            await page.click("nav >> text=Admin")
            await expect(page.locator("h1")).to_have_text("Admin")
            await page.click(".subnav >> text=API tokens")
            await page.fill("#token-name", "ci")
            await page.fill("#token-user", "vic")
            await page.click("#add-token")
            token = page.locator("#new-token")
            await expect(token).to_contain_text("gsk_")
            value = (await token.inner_text()).strip()
            await page.screenshot(path=shots(tmp_path, f"{prefix}-token-once.png"), full_page=True)
            await page.goto(f"{hub.url}/ui/admin/tokens")  # opened again: listed, the value gone
            await expect(page.locator("#tokens")).to_contain_text("ci")
            await expect(page.locator("#new-token")).to_have_count(0)
            assert value not in await page.content()
            async with httpx2.AsyncClient(base_url=hub.url, timeout=60) as http:
                works = await http.post(
                    "/api/tools/execution_list", json={}, headers={"Authorization": f"Bearer {value}"}
                )
            assert works.status_code == 200, works.text
            for path in ("/ui/admin/roles", "/ui/admin/audit", "/ui/admin/secrets", "/ui/admin/runners"):
                await page.goto(f"{hub.url}{path}")
                await expect(page.locator(".subnav")).to_be_visible()
                await page.screenshot(path=shots(tmp_path, f"{prefix}-{path.rsplit('/', 1)[1]}.png"), full_page=True)

            viewer = await browser.new_page(locale="en-US")
            await sign_in(viewer, f"{hub.url}/ui/signin", "vic")
            await expect(viewer.locator("h1")).to_have_text("Dashboard")
            await expect(viewer.locator("nav a.admin")).to_have_count(0)
            await viewer.click("nav >> text=Triggers")  # a viewer reads triggers but gets no form
            await expect(viewer.locator("h1")).to_have_text("Triggers")
            await expect(viewer.locator("#add-webhook")).to_have_count(0)
            csrf = await viewer.locator("input[name=csrf]").first.get_attribute("value")
            assert csrf
            refused = await viewer.request.post(
                f"{hub.url}/ui/admin/tokens", form={"csrf": csrf, "name": "mine", "username": "vic"}
            )
            assert refused.status == 403 and "You may not open this page" in await refused.text()
            answer = await viewer.goto(f"{hub.url}/ui/admin/tokens")
            assert answer is not None and answer.status == 403
            await viewer.screenshot(path=shots(tmp_path, f"{prefix}-viewer-admin-403.png"), full_page=True)
        tokens = await hub.tool("token_list")
        assert [t["name"] for t in tokens["tokens"] if t["name"] in {"ci", "mine"}] == ["ci"]
