"""Running a template from the console in a real browser: Chromium against a real `goosuke serve`, whose
`openai` runner talks to the OpenAI-compatible double on its own socket. On both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from harness.doubles.llm import LLMDouble, Say
from tests.console.test_browser import WAIT_MS, chromium, hub_process, shots, sign_in

pytestmark = pytest.mark.anyio

PARAMETERS = [
    {"key": "topic", "input_type": "string", "description": "What the note is about."},
    {"key": "count", "input_type": "number", "requirement": "optional", "default": 2},
]


async def test_a_template_runs_from_its_form_on_an_openai_runner_until_it_succeeds(
    tmp_path: Path, database_url: str, port: int
) -> None:
    prefix = database_url.split(":", 1)[0].split("+", 1)[0]
    async with LLMDouble([Say("Three notes about tea.", 11, 7)]) as llm:
        with hub_process(tmp_path, database_url, port) as hub:
            await hub.tool("secret_set", name="LLM_KEY", value="sk-console-run")
            await hub.tool(
                "runner_create",
                name="local-llm",
                agent="openai",
                base_url=llm.base_url,
                api_key_secret="LLM_KEY",
                models=["fake-model"],
            )
            await hub.tool(
                "template_create",
                name="notes",
                title="Notes",
                prompt="Write {{ count }} notes about {{ topic }}.",
                parameters=PARAMETERS,
                runner="local-llm",
            )
            async with chromium() as browser:
                page = await browser.new_page(locale="en-US")
                await sign_in(page, f"{hub.url}/ui/templates/notes")
                await page.click("#run-link")
                await expect(page.locator("h1")).to_have_text("Run Notes")
                await expect(page.locator("#p-count")).to_have_value("2")  # the default, ready to change
                await page.fill("#p-topic", "tea")
                await page.fill("#p-count", "many")
                await page.click("#run")
                await expect(page.locator("#err-count")).to_contain_text("give a number")
                await expect(page.locator("#p-topic")).to_have_value("tea")  # what was typed is kept
                assert llm.turns == []  # nothing ran
                await page.fill("#p-count", "3")
                await page.screenshot(path=shots(tmp_path, f"{prefix}-run.png"), full_page=True)
                await page.click("#run")

                await page.wait_for_url(f"{hub.url}/ui/executions/**", timeout=WAIT_MS)
                await expect(page.locator(".status-line .state")).to_have_text("succeeded", timeout=WAIT_MS)
                await expect(page.locator("#output")).to_have_text("Three notes about tea.")
                await page.screenshot(path=shots(tmp_path, f"{prefix}-run-done.png"), full_page=True)
    assert len(llm.turns) == 1 and llm.turns[0].body["model"] == "fake-model"
    assert llm.authorizations[-1] == "Bearer sk-console-run"
    assert "Write 3 notes about tea." in str(llm.turns[0].messages)
