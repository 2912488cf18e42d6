"""`goosuke serve` with GOOSUKE_LOG_FORMAT=json: one JSON object per log line, a webhook delivery
logged by name and outcome (never its payload), and the vault's scrubber masking in both formats."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.processes import hub_env, serving
from hub.cli import _logging
from hub.settings import Settings
from hub.triggers.webhooks import sign_github
from hub.vault.scrubbing import Scrubber, install_log_scrubber

pytestmark = pytest.mark.anyio

PAYLOAD_MARK = "payload-text-that-must-not-be-logged"


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


async def test_json_logs_show_a_webhook_delivery_by_name_and_outcome(
    tmp_path: Path, database_url: str, port: int
) -> None:
    log = tmp_path / "serve.log"
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_LOG_FORMAT="json")
    with serving(env, port, log=log):
        token = (tmp_path / "data" / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            template = {
                "name": "echo",
                "title": "echo",
                "prompt": "{{ title }}",
                "agent": "command",
                "agent_settings": {"argv": ["true"]},
                "parameters": [{"key": "title", "requirement": "required"}],
            }
            created = await http.post("/api/tools/template_create", json=template)
            assert created.status_code == 200, created.text
            hook = await http.post(
                "/api/tools/webhook_create",
                json={"name": "gh-logs", "template": "echo", "auth": "github", "mapping": {"title": "/title"}},
            )
            assert hook.status_code == 200, hook.text
            secret = hook.json()["secret"]
        body = json.dumps({"title": PAYLOAD_MARK}).encode()
        headers = {
            "X-Hub-Signature-256": sign_github(secret, body),
            "X-GitHub-Delivery": "d-1",
            "Content-Type": "application/json",
        }
        async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
            accepted = await http.post("/hooks/gh-logs", content=body, headers=headers)
            assert accepted.status_code == 202, accepted.text
            bad = await http.post("/hooks/gh-logs", content=body, headers={**headers, "X-Hub-Signature-256": "x"})
            assert bad.status_code == 401
        execution = accepted.json()["execution_id"]
    text = log.read_text()
    records = _json_lines(text)
    assert records, text[:2000]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert record["time"].endswith("+00:00")
    deliveries = [r for r in records if r["logger"] == "goosuke.webhooks" and "gh-logs" in r["message"]]
    assert [r["level"] for r in deliveries] == ["INFO", "INFO"], deliveries
    assert "accepted" in deliveries[0]["message"] and execution in deliveries[0]["message"]
    assert "rejected" in deliveries[1]["message"]
    assert PAYLOAD_MARK not in text and secret not in text and token not in text.replace(token, "", 1)
    # every line of the log is JSON but the first-start banner the hub prints on purpose
    others = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    assert all("admin API token" in line or line.strip() == token or "Bearer" in line for line in others), others


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_vault_scrubber_masks_secrets_in_both_formats(log_format: str, tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        _logging(Settings(data_dir=tmp_path, log_format=log_format))  # type: ignore[arg-type]
        stream = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        scrubber = Scrubber()
        scrubber.remember("env", "TOKEN", "a-very-secret-value-123")
        install_log_scrubber(scrubber)
        logging.getLogger("goosuke.test").info("calling with %s", "a-very-secret-value-123")
        output = stream.getvalue()
        assert "a-very-secret-value-123" not in output and "calling with" in output
        if log_format == "json":
            record = json.loads(output.strip())
            assert record["logger"] == "goosuke.test" and record["level"] == "INFO"
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
