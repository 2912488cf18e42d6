"""The template editor and the extensions page in a real browser: Chromium (Debian's) driven by Playwright
against a real `goosuke serve`, on both databases; each page screenshotted into the artifact folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.console.test_browser import WAIT_MS, chromium, hub_process, shots, sign_in
from tests.extension_support import stdio_test_server

pytestmark = pytest.mark.anyio

FILESYSTEM = "io.github.modelcontextprotocol/server-filesystem"


def backend(database_url: str) -> str:
    return database_url.split(":", 1)[0].split("+", 1)[0]


async def fill_row(page: Page, index: int, **fields: str) -> None:
    row = page.locator("#params tr.param-row").nth(index)
    for name, value in fields.items():
        target = row.locator(f"[name=param_{name}]")
        if name in ("type", "requirement"):
            await target.select_option(value)
        else:
            await target.fill(value)


async def test_a_template_with_two_parameters_previews_live_and_gets_a_recommended_extension(
    tmp_path: Path, database_url: str, port: int
) -> None:
    prefix = backend(database_url)
    with hub_process(tmp_path, database_url, port) as hub:
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await sign_in(page, f"{hub.url}/ui/signin")
            await page.click("nav >> text=Templates")
            await expect(page.locator("#templates")).to_contain_text("meeting-summary")  # the built-in library
            await page.click("#new-template")
            await page.fill("#tpl-name", "notes")
            await page.fill("#tpl-title", "Notes")
            await page.fill("#tpl-prompt", "Read the files in my notes directory for {{ who }}, {{ times }} times.")
            await expect(page.locator("#err-parameters")).to_contain_text("{{ who }} is used but not declared")
            await page.click("#add-param")
            await fill_row(page, 0, key="who", description="Who reads them", sample="Ada")
            await page.click("#add-param")
            await fill_row(page, 1, key="times", type="number", requirement="optional", default="2", sample="3")
            preview = page.locator("#preview")
            await expect(preview).to_have_text(
                "Read the files in my notes directory for Ada, 3 times.", timeout=WAIT_MS
            )
            await expect(page.locator("#err-parameters")).to_be_hidden()
            await fill_row(page, 0, sample="Grace")
            await expect(preview).to_have_text(
                "Read the files in my notes directory for Grace, 3 times.", timeout=WAIT_MS
            )
            await page.screenshot(path=shots(tmp_path, f"{prefix}-template-editor.png"), full_page=True)

            offer = page.locator(f"#recommendations li[data-catalog='{FILESYSTEM}']")
            await expect(offer).to_contain_text("Filesystem", timeout=WAIT_MS)
            await offer.locator("button.add-extension").click()  # saves the template, opens the prefilled form
            await expect(page.locator("#for-template")).to_contain_text("notes", timeout=WAIT_MS)
            await expect(page.locator("#ext-name")).to_have_value("filesystem")
            await expect(page.locator("[data-variable=directory]")).to_contain_text("A directory the server may access")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-extension-form.png"), full_page=True)
            await page.click("#install")
            await expect(page.locator("#var-directory")).to_have_attribute("aria-invalid", "true")  # needed
            await page.fill("#var-directory", str(tmp_path))
            await page.click("#install")

            await expect(page.locator("#attached")).to_contain_text("filesystem", timeout=WAIT_MS)
            assert page.url == f"{hub.url}/ui/templates/notes?attached=filesystem"
            await expect(page.locator("#tpl-extensions")).to_have_value("filesystem")
            await expect(page.locator("#params tr.param-row")).to_have_count(2)
            await expect(offer.locator(".badge.ok")).to_have_text("attached", timeout=WAIT_MS)
            await page.screenshot(path=shots(tmp_path, f"{prefix}-template-attached.png"), full_page=True)

            versions = page.locator("#history tr.version")  # saved, then the extension attached: two versions
            await expect(versions).to_have_count(2)
            await versions.first.locator("a.diff-link").click()
            added = page.locator("#diff .diff-add").last
            await expect(added).to_contain_text("- filesystem", timeout=WAIT_MS)
            await expect(added).to_have_css("background-color", "rgb(230, 244, 234)")  # the stylesheet, not inline
            await page.screenshot(path=shots(tmp_path, f"{prefix}-template-diff.png"), full_page=True)
        saved = await hub.tool("template_get", name="notes")
        assert saved["extensions"] == ["filesystem"] and [p["key"] for p in saved["parameters"]] == ["who", "times"]
        assert (await hub.tool("extension_get", name="filesystem"))["config"]["args"][-1] == str(tmp_path)


async def test_tools_picked_across_two_searches_are_turned_off_together(
    tmp_path: Path, database_url: str, port: int
) -> None:
    prefix = backend(database_url)
    with hub_process(tmp_path, database_url, port) as hub:
        added = await hub.tool("extension_add", extension=stdio_test_server("toy"))
        assert added["start_error"] is None, added
        async with chromium() as browser:
            page = await browser.new_page(locale="en-US")
            await sign_in(page, f"{hub.url}/ui/signin")
            await page.click("nav >> text=Extensions")
            row = page.locator("#extensions tr[data-extension=toy]")
            await expect(row.locator(".state")).to_have_text("ready")
            await row.locator("button.check").click()
            await expect(page.locator("#check-result")).to_contain_text("it answers", timeout=WAIT_MS)

            await page.fill("#tool-q", "echo")
            await page.click("#search-tools button")
            await page.check("[data-tool=toy__echo] input[type=checkbox]")
            await page.fill("#tool-q", "toy__add")
            await page.click("#search-tools button")
            await expect(page.locator("#selected-count")).to_contain_text("toy__echo")  # kept from the first search
            await page.check("[data-tool=toy__add] input[type=checkbox]")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-extension-tools.png"), full_page=True)
            await page.click("#disable-tools")
            await expect(page.locator("#ext-note")).to_have_text("Turned 2 tools off.", timeout=WAIT_MS)

            await page.fill("#tool-q", "toy__")
            await page.click("#search-tools button")
            await expect(page.locator("[data-tool=toy__echo] .tool-state")).to_have_text("off")
            await expect(page.locator("[data-tool=toy__add] .tool-state")).to_have_text("off")
            await expect(page.locator("[data-tool=toy__env] .tool-state")).to_have_text("on")
            await page.screenshot(path=shots(tmp_path, f"{prefix}-extension-tools-off.png"), full_page=True)
        served = await hub.tool("extension_get", name="toy")
        assert "toy__env" in served["tools"] and set(served["left_out"]) == {"echo", "add"}
