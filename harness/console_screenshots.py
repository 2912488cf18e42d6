"""The screenshots in docs/console.md: a real `goosuke serve` with sample data, each console page in Chromium.

    .venv/bin/python -m harness.console_screenshots [--out docs/images/console]

Run by hand when a page changes (no test runs it). It starts a hub on SQLite in a temporary folder, makes
a few runners, templates, executions (succeeded, failed, one still running), a webhook with a delivery, a
schedule, an extension, a token and a secret through the API, then signs in as the admin in Debian's
Chromium (``/usr/bin/chromium``) and saves ``<page>.png`` of each page at a 1280x800 viewport, light
scheme, English.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from playwright.async_api import Page, async_playwright, expect

from harness import REPO
from harness.processes import GOOSUKE, free_port, hub_env, serving
from hub.triggers.webhooks import sign_github

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
WAIT_MS = 30_000
ECHO = "import sys; print('echo:' + sys.stdin.read())"
SLOW = "import sys, time; print('started', flush=True); time.sleep(600)"
FAIL = ["sh", "-c", "echo 'fatal: repository not found' >&2; exit 3"]
FILESYSTEM = "io.github.modelcontextprotocol/server-filesystem"
TOY = {  # the test suite's stdio server (tests/servers/stdio_server.py): a few tools, no network
    "type": "stdio",
    "name": "toy",
    "cmd": sys.executable,
    "args": ["-m", "tests.servers.stdio_server"],
    "cwd": str(REPO),
    "timeout": 10,
}


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    async def __call__(self, tool: str, /, **arguments: Any) -> dict[str, Any]:
        response = await self.http.post(f"/api/tools/{tool}", json=arguments)
        assert response.status_code == 200, f"{tool}: {response.text}"
        result: dict[str, Any] = response.json()
        return result


async def seed(api: Api, url: str) -> dict[str, str]:
    """Sample data; the ids the pages' addresses need."""
    python = sys.executable
    await api("runner_create", name="echo", agent="command", argv=[python, "-c", ECHO])
    await api("runner_create", name="slow", agent="command", argv=[python, "-c", SLOW], max_timeout=900)
    await api("runner_create", name="flaky", agent="command", argv=FAIL)
    parameters = [
        {"key": "repo", "input_type": "string", "requirement": "required", "description": "owner/name"},
        {"key": "days", "input_type": "number", "requirement": "optional", "default": 7},
    ]
    await api(
        "template_create",
        name="weekly-report",
        title="Weekly report",
        description="What changed in a repository this week.",
        prompt="Summarise the issues and pull requests of {{ repo }} in the last {{ days }} days.",
        parameters=parameters,
        tags=["reports", "github"],
        runner="echo",
    )
    await api(
        "template_update",
        name="weekly-report",
        prompt="Summarise the issues and pull requests of {{ repo }} in the last {{ days }} days.\n"
        "Name the three most active contributors.",
    )
    await api("template_create", name="triage", title="Triage an issue", prompt="Triage {{ title }}.",
              parameters=[{"key": "title", "input_type": "string", "requirement": "required"}],
              tags=["github"], runner="echo")  # fmt: skip
    await api("template_create", name="nightly-sync", title="Nightly sync", prompt="Sync.", runner="slow")
    await api("template_create", name="mirror", title="Mirror a repository", prompt="Mirror.", runner="flaky")
    done = await api("template_run", name="weekly-report", params={"repo": "acme/app"}, wait=60)
    for days in (1, 14):
        await api("template_run", name="weekly-report", params={"repo": "acme/web", "days": days}, wait=60)
    await api("template_run", name="mirror", wait=60)
    await api("template_run", name="nightly-sync")  # still running while the pictures are taken
    made = await api("webhook_create", name="github-issues", template="triage", mapping={"title": "/issue/title"})
    body = json.dumps({"action": "opened", "issue": {"title": "Login page is blank"}}).encode()
    headers = {
        "X-Hub-Signature-256": sign_github(made["secret"], body),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "Content-Type": "application/json",
    }
    async with httpx2.AsyncClient(base_url=url, timeout=60) as http:
        assert (await http.post("/hooks/github-issues", content=body, headers=headers)).status_code == 202
    await api("schedule_create", name="monday-report", template="weekly-report", cron="0 9 * * 1",
              timezone="Asia/Tokyo", params={"repo": "acme/app"})  # fmt: skip
    added = await api("extension_add", extension=TOY)
    assert added["start_error"] is None, added
    await api("token_create", name="ci", username="admin", note="the CI pipeline")
    await api("secret_set", name="GITHUB_PERSONAL_ACCESS_TOKEN", value="ghp_example_value")
    await api("user_create", username="vic", password=PASSWORD, role="viewer")
    return {"execution": str(done["id"])}


def pages(ids: dict[str, str]) -> dict[str, str]:
    return {
        "dashboard": "/ui",
        "executions": "/ui/executions",
        "execution": f"/ui/executions/{ids['execution']}",
        "templates": "/ui/templates",
        "template-editor": "/ui/templates/weekly-report",
        "template-diff": "/ui/templates/weekly-report/diff",
        "extensions": "/ui/extensions?q=toy&sel=toy__echo",
        "extension-catalog": "/ui/extensions/add?q=github",
        "extension-add": f"/ui/extensions/add?catalog={FILESYSTEM}",
        "extension-edit": "/ui/extensions/toy/edit",
        "triggers": "/ui/triggers",
        "schedule": "/ui/triggers/schedules/monday-report",
        "webhook": "/ui/triggers/webhooks/github-issues",
        "users": "/ui/admin/users",
        "admin": "/ui/admin",
        "teams": "/ui/admin/teams",
        "team": "/ui/admin/teams/default",
        "roles": "/ui/admin/roles",
        "tokens": "/ui/admin/tokens",
        "runners": "/ui/admin/runners",
        "secrets": "/ui/admin/secrets",
        "audit": "/ui/admin/audit",
    }


async def shoot(page: Page, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    await page.screenshot(path=path, type="png", scale="css")
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {path.stat().st_size // 1024} KB")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "docs/images/console")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp), free_port()
        env = hub_env(data, GOOSUKE_LOG_LEVEL="WARNING")
        with serving(env, port, log=data / "serve.log"):
            url = f"http://127.0.0.1:{port}"
            subprocess.run([*GOOSUKE, "user", "passwd", "admin", "--password-stdin"], env=env, cwd=REPO,
                           input=f"{PASSWORD}\n".encode(), check=True, timeout=60)  # fmt: skip
            api = Api(url, (data / "admin.token").read_text().strip())
            ids = await seed(api, url)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 800}, locale="en-US", color_scheme="light"
                )
                page = await context.new_page()
                await page.goto(f"{url}/ui/signin")
                await shoot(page, out, "signin")
                await page.fill("#username", "admin")
                await page.fill("#password", PASSWORD)
                await page.click("#signin-password")
                await expect(page.locator("#live-state")).to_have_attribute("data-connected", "yes", timeout=WAIT_MS)
                for name, path in pages(ids).items():
                    await page.goto(f"{url}{path}")
                    await expect(page.locator("main h1").first).to_be_visible(timeout=WAIT_MS)
                    if name == "template-editor":  # the live check's preview and recommendations
                        await page.locator("input[name=param_sample]").first.fill("acme/app")
                        await expect(page.locator("#preview")).to_contain_text("acme/app", timeout=WAIT_MS)
                        await expect(page.locator("#recommendations li").first).to_be_visible(timeout=WAIT_MS)
                        await page.locator("input[name=param_sample]").first.blur()
                        await page.evaluate("window.scrollTo(0, 0)")
                    await shoot(page, out, name)
                await browser.close()
            await api("execution_cancel", id=(await api("execution_list", status="running"))["executions"][0]["id"])
            await api.http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
