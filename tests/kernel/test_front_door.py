"""The hub's address in a browser, and the facade's documented statuses matching the code."""

from __future__ import annotations

import logging
import re

import anyio
import pytest

from harness import REPO
from tests.conftest import LiveHub

pytestmark = pytest.mark.anyio


async def test_the_root_sends_a_browser_to_the_console_and_other_clients_to_the_api_page(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert response.status_code == 307, response.text
        assert response.headers["location"] == "/ui"
        console = await http.get("/", headers={"Accept": "text/html"}, follow_redirects=True)
        assert console.status_code == 200 and "<form" in console.text  # the console's sign-in page
        assert console.url.path == "/ui/signin"
        plain = await http.get("/", headers={"Accept": "*/*"})
        assert plain.status_code == 307 and plain.headers["location"] == "/api/docs"
        page = await http.get("/api/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    async with live_hub.http(live_hub.admin_token) as http:
        other = await http.get("/no-such-page")
        assert other.status_code == 404
        assert other.headers["content-type"].startswith("application/problem+json")


def _documented_status(row_words: str) -> int:
    """The status the table of docs/clients.md gives for the row that mentions ``row_words``."""
    table = (REPO / "docs" / "clients.md").read_text()
    rows = [line for line in table.splitlines() if re.match(r"^\| \d{3} \|", line) and row_words in line.lower()]
    assert len(rows) == 1, rows
    return int(rows[0].split("|")[1])


async def test_malformed_json_gets_the_status_the_client_docs_name(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post(
            "/api/tools/whoami", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.status_code == _documented_status("not json")
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_a_client_that_leaves_before_its_body_arrives_is_no_error(
    live_hub: LiveHub, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    host, port = live_hub.url.removeprefix("http://").split(":")
    stream = await anyio.connect_tcp(host, int(port))
    head = (
        f"POST /api/tools/whoami HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {live_hub.admin_token}"
        "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    await stream.send(head.encode())
    await anyio.sleep(0.2)  # the handler is waiting for the rest of the body
    await stream.aclose()
    async with live_hub.http(live_hub.admin_token) as http:  # the hub goes on answering
        assert (await http.post("/api/tools/whoami", json={})).status_code == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("goosuke")]
    assert not errors and "Exception in ASGI application" not in capfd.readouterr().err, errors
