"""A real `goosuke serve` killed with SIGKILL mid-run: after a restart nothing has vanished."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from harness.processes import hub_env, serving
from hub.db import Database
from hub.db.models import Execution
from tests.engine_support import group_gone

pytestmark = pytest.mark.anyio


async def call(http: httpx2.AsyncClient, tool: str, **arguments: Any) -> dict[str, Any]:
    response = await http.post(f"/api/tools/{tool}", json=arguments)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def poll(http: httpx2.AsyncClient, tool: str, check: Any, timeout: float = 30, **arguments: Any) -> Any:
    with anyio.fail_after(timeout):
        while True:
            data = await call(http, tool, **arguments)
            if check(data):
                return data
            await anyio.sleep(0.05)


async def recorded_pid(database_url: str, execution_id: str) -> int:
    db = Database(database_url)
    try:
        with anyio.fail_after(10):
            while True:
                async with db.session() as session:
                    row = await session.get(Execution, execution_id)
                if row is not None and row.pid:
                    return row.pid
                await anyio.sleep(0.05)
    finally:
        await db.dispose()


async def test_a_sigkilled_hub_leaves_its_run_interrupted_with_its_log_and_requeued(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_AUTH="none", GOOSUKE_EXECUTION_KILL_GRACE="0.5")
    url = f"http://127.0.0.1:{port}"
    with serving(env, port, log=tmp_path / "first.log") as first:
        async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
            await call(
                http,
                "template_create",
                name="long-job",
                title="A long job",
                prompt="work",
                agent="command",
                agent_settings={"argv": ["sh", "-c", "echo started; sleep 30"], "retries": 1},
            )
            run = await call(http, "template_run", name="long-job")
            await poll(http, "execution_logs", lambda d: any(x["text"] == "started" for x in d["lines"]), id=run["id"])
            pid = await recorded_pid(database_url, run["id"])
            first.send_signal(signal.SIGKILL)
            first.wait(10)
    assert not group_gone(pid), "the agent outlives a SIGKILLed hub (it runs in its own session)"

    with serving(env, port, log=tmp_path / "second.log"):
        async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
            info = await poll(http, "execution_get", lambda d: d["status"] != "running", id=run["id"])
            assert info["status"] == "interrupted"
            assert "stopped (crash or kill)" in info["error"]
            logs = await call(http, "execution_logs", id=run["id"])
            texts = [line["text"] for line in logs["lines"]]
            assert "started" in texts, "the log written before the crash is intact"
            assert texts[-1].startswith("interrupted:")
            assert group_gone(pid), "the restarted hub ended the orphaned process group"
            retry = await poll(http, "execution_list", lambda d: d["total"] == 2, template="long-job")
            newest = retry["executions"][0]
            assert newest["id"] != run["id"] and newest["attempt"] == 2
            assert newest["status"] in ("queued", "running")
            await call(http, "execution_cancel", id=newest["id"])
