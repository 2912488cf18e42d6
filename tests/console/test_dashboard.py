"""The dashboard's tool-call metrics (the ``hub_metrics`` tool), chat connections and webhook deliveries, and
the executions list's filters, over HTTP in process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from hub.metrics import quantile
from hub.principal import Role
from tests.conftest import LiveHub
from tests.console.support import add_user, set_password, sign_in
from tests.engine_support import add_template, execution_row

pytestmark = pytest.mark.anyio


async def _ok(api: httpx2.AsyncClient, tool: str, **arguments: Any) -> dict[str, Any]:
    response = await api.post(f"/api/tools/{tool}", json=arguments)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_quantile_is_interpolated_inside_its_bucket() -> None:
    buckets = [(0.01, 0.0), (0.1, 10.0), (1.0, 20.0), (float("inf"), 20.0)]
    assert quantile(buckets, 0.5) == pytest.approx(0.1)
    assert quantile(buckets, 0.25) == pytest.approx(0.055)
    assert quantile(buckets, 0.95) == pytest.approx(0.1 + 0.9 * 0.9)
    assert quantile([(0.01, 0.0), (float("inf"), 0.0)], 0.5) is None
    assert quantile([(0.01, 0.0), (float("inf"), 4.0)], 0.99) == 0.01  # beyond the last bound: the bound


async def test_hub_metrics_counts_calls_errors_and_latency_by_tool(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as api:
        for _ in range(3):
            await _ok(api, "hub_info")
        missing = await api.post("/api/tools/template_get", json={"name": "no-such-template"})
        assert missing.status_code == 404
        metrics = await _ok(api, "hub_metrics")
    tools = {t["tool"]: t for t in metrics["tools"]}
    assert tools["hub_info"]["calls"] == 3 and tools["hub_info"]["errors"] == 0
    assert tools["hub_info"]["error_rate"] == 0 and tools["hub_info"]["p50_ms"] is not None
    assert tools["hub_info"]["p50_ms"] <= tools["hub_info"]["p95_ms"] <= tools["hub_info"]["p99_ms"]
    assert tools["template_get"] == {**tools["template_get"], "calls": 1, "errors": 1, "error_rate": 1.0}
    assert "hub_metrics" not in tools  # a call is counted once it has ended
    assert len(metrics["per_minute"]) == 60
    assert sum(m["calls"] for m in metrics["per_minute"]) == metrics["total"]["calls"]
    assert sum(m["errors"] for m in metrics["per_minute"]) == metrics["total"]["errors"] >= 1
    assert metrics["total"]["calls"] == sum(t["calls"] for t in metrics["tools"])


async def test_the_dashboard_draws_the_metrics_chat_and_deliveries(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "olga", Role.operator)
    await add_template(live_hub.context, "triage", argv=["true"], prompt="{{ text }}")
    async with live_hub.http(live_hub.admin_token) as api:
        await _ok(api, "webhook_create", name="gh", template="triage", auth="github")
        refused = await live_hub.http().post("/hooks/gh", json={}, headers={"X-Hub-Signature-256": "sha256=00"})
        assert refused.status_code == 401
        assert (await api.post("/api/tools/template_get", json={"name": "nope"})).status_code == 404
    async with live_hub.http() as http:
        page = await sign_in(http, "olga")
    assert 'id="calls-spark"' in page and "<polyline points=" in page and 'id="error-bars"' in page
    assert 'data-tool="template_get"' in page and "100 %" in page  # its one call failed
    chat = page.split('id="h-chat"', 1)[1].split("</section>", 1)[0]
    assert 'data-chat="discord">off</span>' in chat and "no bot token configured" in chat  # no Discord bot
    assert '<a href="/ui/triggers/webhooks/gh"><strong>gh</strong></a>' in page
    assert "outcome-rejected" in page


async def test_the_executions_list_narrows_by_trigger_team_and_time(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as api:
        await _ok(api, "team_create", name="ops", description="")
        ops = (await _ok(api, "team_get", team="ops"))["id"]
    now = datetime.now(UTC)
    rows = [
        execution_row("nightly", trigger_kind="schedule", team_id="default", queued_at=now - timedelta(days=2)),
        execution_row("hook", trigger_kind="webhook", team_id=ops, queued_at=now - timedelta(hours=1)),
        execution_row("manual", trigger_kind="api", team_id=ops, queued_at=now - timedelta(minutes=5)),
    ]
    async with live_hub.context.db.session() as session:
        session.add_all(rows)
    async with live_hub.http() as http:
        await set_password(live_hub.context.db, "admin")
        await sign_in(http, "admin")

        async def listed(**query: str) -> set[str]:
            page = await http.get("/ui/executions", params=query)
            assert page.status_code == 200, page.text
            return {name for name in ("nightly", "hook", "manual") if f"<td>{name}</td>" in page.text}

        assert await listed() == {"nightly", "hook", "manual"}
        assert await listed(trigger="webhook") == {"hook"}
        assert await listed(team="ops") == {"hook", "manual"}
        day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        half_hour_ago = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
        assert await listed(since=day_ago) == {"hook", "manual"}
        assert await listed(since=day_ago, until=half_hour_ago) == {"hook"}
        assert await listed(team="ops", trigger="api") == {"manual"}
        page = await http.get("/ui/executions", params={"team": "ops", "since": day_ago})
    assert '<option value="ops" selected>' in page.text and f'value="{day_ago}"' in page.text
    async with live_hub.http(live_hub.admin_token) as api:
        unknown = await api.post("/api/tools/execution_list", json={"team": "no-such-team"})
    assert unknown.status_code == 404
