"""Several real hub processes on one SQLite data folder: a `goosuke serve` with runs in flight while
`goosuke stdio` processes (what Goose and Claude Desktop spawn) start and stop beside it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from harness import REPO
from harness.processes import free_port, hub_env, serving

pytestmark = pytest.mark.anyio

STDIO_STARTS = 20
STDIO_AT_ONCE = 2  # stdio hubs beside each other too (and the test takes half as long)
# The run reads a path on stdin, says it started, and ends once that file exists (bounded: at most 2 min).
HOLD = 'read f; echo started; i=0; while [ ! -e "$f" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done; echo done'


async def call(http: httpx2.AsyncClient, tool: str, **arguments: Any) -> dict[str, Any]:
    response = await http.post(f"/api/tools/{tool}", json=arguments)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for(
    http: httpx2.AsyncClient, execution_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        while True:
            info = await call(http, "execution_get", id=execution_id)
            if info["status"] in statuses:
                return info
            await anyio.sleep(0.05)


async def test_stdio_hubs_starting_beside_serve_never_touch_its_runs(tmp_path: Path, port: int) -> None:
    data = tmp_path / "data"
    env = hub_env(data, GOOSUKE_AUTH="none", GOOSUKE_MAX_CONCURRENT_EXECUTIONS="8")
    serve_log = tmp_path / "serve.log"
    submitted: list[str] = []
    stdio_logs: list[Path] = []
    with serving(env, port, log=serve_log):
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await call(
                http,
                "template_create",
                name="holder",
                title="Holds until released",
                prompt="{{ release }}",
                parameters=[{"key": "release", "requirement": "required"}],
                agent="command",
                agent_settings={"argv": ["sh", "-c", HOLD]},
            )

            async def one_stdio_hub(n: int) -> None:
                async with side_by_side:
                    release = tmp_path / f"release-{n}"
                    run = await call(http, "template_run", name="holder", params={"release": str(release)})
                    submitted.append(run["id"])
                    await wait_for(http, run["id"], {"running"})  # in flight while the stdio hub starts and stops
                    log = tmp_path / f"stdio-{n}.log"
                    stdio_logs.append(log)
                    params = StdioServerParameters(
                        command=sys.executable, args=["-m", "hub.cli", "stdio"], env=hub_env(data), cwd=str(REPO)
                    )
                    with log.open("w") as errlog, anyio.fail_after(90):
                        async with Client(stdio_client(params, errlog=errlog)) as client:
                            names = {tool.name for tool in (await client.list_tools()).tools}
                            assert "template_run" in names
                    release.touch()

            side_by_side = anyio.CapacityLimiter(STDIO_AT_ONCE)
            async with anyio.create_task_group() as tg:
                for n in range(STDIO_STARTS):
                    tg.start_soon(one_stdio_hub, n)
            finals = [
                await wait_for(http, execution_id, {"succeeded", "failed", "interrupted", "timed_out", "cancelled"})
                for execution_id in submitted
            ]
            listed = await call(http, "execution_list", template="holder", limit=100)
    assert [info["status"] for info in finals] == ["succeeded"] * STDIO_STARTS, [
        (info["status"], info.get("error")) for info in finals
    ]
    assert listed["total"] == STDIO_STARTS, "no run was interrupted and requeued as a retry"
    for log in [serve_log, *stdio_logs]:
        text = log.read_text()
        assert "Traceback" not in text, f"{log.name}:\n{text}"
        assert "Killed the leftover" not in text, f"{log.name}:\n{text}"
        assert "Recovered" not in text, f"{log.name}:\n{text}"
    served = serve_log.read_text()
    for execution_id in submitted:  # one INFO line as each run starts and ends; never its parameters
        assert served.count(f"Execution {execution_id} of holder started (trigger api") == 1
        assert served.count(f"Execution {execution_id} of holder ended succeeded after ") == 1
    assert str(tmp_path / "release-") not in served


SECOND_SERVE_RUNS = 4


async def test_a_second_serve_on_the_same_folder_starts_and_stops_beside_runs_in_flight(
    tmp_path: Path, port: int
) -> None:
    data = tmp_path / "data"
    env = hub_env(data, GOOSUKE_AUTH="none", GOOSUKE_MAX_CONCURRENT_EXECUTIONS="8")
    first_log, second_log = tmp_path / "serve-a.log", tmp_path / "serve-b.log"
    releases = [tmp_path / f"release-{n}" for n in range(SECOND_SERVE_RUNS)]
    with serving(env, port, log=first_log):
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            # the command agent on a runner an admin made (the local owner is one with GOOSUKE_AUTH=none)
            await call(http, "runner_create", name="holder", agent="command", argv=["sh", "-c", HOLD])
            await call(
                http,
                "template_create",
                name="holder",
                title="Holds until released",
                prompt="{{ release }}",
                parameters=[{"key": "release", "requirement": "required"}],
                agent="command",
                runner="holder",
            )
            submitted = [
                (await call(http, "template_run", name="holder", params={"release": str(release)}))["id"]
                for release in releases
            ]
            for execution_id in submitted:
                await wait_for(http, execution_id, {"running"})
            second = free_port()
            with serving(env, second, log=second_log):  # serve B: same data folder, another port
                async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{second}", timeout=30) as other:
                    seen = [await call(other, "execution_get", id=execution_id) for execution_id in submitted]
                    assert [info["status"] for info in seen] == ["running"] * SECOND_SERVE_RUNS
                    assert (await other.get("/readyz")).status_code == 200
            # B has stopped; A's runs are still in flight, then released
            still = [await call(http, "execution_get", id=execution_id) for execution_id in submitted]
            assert [info["status"] for info in still] == ["running"] * SECOND_SERVE_RUNS
            for release in releases:
                release.touch()
            finals = [
                await wait_for(http, execution_id, {"succeeded", "failed", "interrupted", "timed_out", "cancelled"})
                for execution_id in submitted
            ]
            listed = await call(http, "execution_list", template="holder", limit=100)
    assert [(info["status"], info["output"]) for info in finals] == [("succeeded", "started\ndone")] * len(finals), [
        (info["status"], info.get("error")) for info in finals
    ]
    assert listed["total"] == SECOND_SERVE_RUNS, "no run was interrupted and requeued as a retry"
    for log in (first_log, second_log):
        text = log.read_text()
        for sign in ("Traceback", "Killed the leftover", "Recovered", "taken over", "finished elsewhere"):
            assert sign not in text, f"{log.name}:\n{text}"
    served, beside = first_log.read_text(), second_log.read_text()
    for execution_id in submitted:  # A started and ended each run once; B never ran one
        assert served.count(f"Execution {execution_id} of holder started (trigger api") == 1
        assert served.count(f"Execution {execution_id} of holder ended succeeded after ") == 1
        assert f"Execution {execution_id}" not in beside
