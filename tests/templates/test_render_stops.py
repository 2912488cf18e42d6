"""Renders that truly stop: a rendering past GOOSUKE_RENDER_TIMEOUT has its worker process killed and
reaped (the caller gets a 422 naming the field), the next rendering gets a fresh worker, several render
in parallel up to GOOSUKE_RENDER_WORKERS, and no worker outlives its hub, in process and through
`goosuke serve`."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from harness.processes import hub_env, serving
from hub import procfs
from hub.context import AppContext
from hub.errors import InvalidArguments, ServiceUnavailable
from hub.settings import Settings
from hub.templates import workers
from hub.templates.workers import MARKER, RenderWorkers
from tests.engine_support import hub_running
from tests.extension_support import wait_for

pytestmark = pytest.mark.anyio

# One wordwrap call of a million characters spends one step and takes about a second: the sandbox's
# own deadline, looked at every 256 steps, never comes; only the kill stops it (issue 11, finding 6).
HEAVY = "{% for i in range(8) %}{{ ('a' * 999999)|wordwrap(1)|length }} {% endfor %}"
LIGHT = "Hello {{ name }}"
TEMPLATES: list[dict[str, Any]] = [
    {"name": "heavy", "title": "Heavy", "prompt": HEAVY, "agent": "sampling"},
    {
        "name": "light",
        "title": "Light",
        "prompt": LIGHT,
        "agent": "sampling",
        "parameters": [{"key": "name", "requirement": "optional", "default": "world"}],
    },
]


def gone(pid: int) -> bool:
    """The process no longer exists (reaped: not even a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return procfs.stat(pid) is None
    return False


def worker_children(pid: int) -> dict[int, str]:
    """The render workers among ``pid``'s children, with their state (R running, S sleeping...)."""
    found: dict[int, str] = {}
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            listed = children.read_text().split()
        except OSError:
            continue
        for child in map(int, listed):
            stat = procfs.stat(child)
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if stat is not None and not stat.zombie and MARKER.encode() in cmdline:
                found[child] = stat.state
    return found


@pytest.fixture
def quick(settings: Settings) -> Settings:
    settings.render_timeout = 0.3
    settings.render_workers = 1
    return settings


@pytest.fixture
async def hub(quick: Settings) -> AsyncIterator[AppContext]:
    async with hub_running(quick) as app:
        assert app.server is not None
        async with Client(app.server) as client:
            for template in TEMPLATES:
                created = await client.call_tool("template_create", template)
                assert not created.is_error, created.content
        yield app


async def render_tool(app: AppContext, name: str) -> Any:
    assert app.server is not None
    async with Client(app.server) as client:
        return await client.call_tool("template_render", {"name": name})


async def test_a_heavy_render_is_refused_naming_the_prompt_and_its_worker_is_killed(hub: AppContext) -> None:
    pool = hub.services.get(RenderWorkers)
    warm = await render_tool(hub, "light")
    assert not warm.is_error and warm.structured_content["prompt"] == "Hello world"
    [worker] = pool.pids()  # the one worker (GOOSUKE_RENDER_WORKERS=1) that will take the heavy render
    assert MARKER.encode() in Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")

    refused = await render_tool(hub, "heavy")
    assert refused.is_error
    text = refused.content[0].text
    assert "prompt" in text and "took longer than 0.3 s" in text, text
    assert gone(worker), "the worker that ran the heavy render is still there"
    assert pool.pids() == []

    # (b) the next render works, in a fresh worker
    again = await render_tool(hub, "light")
    assert not again.is_error and again.structured_content["prompt"] == "Hello world"
    [fresh] = pool.pids()
    assert fresh != worker


async def test_the_engine_path_refuses_a_heavy_prompt_as_invalid_arguments_naming_it(hub: AppContext) -> None:
    from hub.engine import Engine

    engine = hub.services.get(Engine)
    with pytest.raises(InvalidArguments) as caught:
        await engine.prepare("heavy", {})
    assert caught.value.errors[0]["field"] == "prompt"
    assert caught.value.errors[0]["type"] == "template_limit"
    assert (await engine.prepare("light", {"name": "engine"})).prompt == "Hello engine"


async def test_renders_in_parallel_use_workers_up_to_the_cap_then_queue() -> None:
    pool = RenderWorkers(size=2, timeout=10.0)
    source = "{% for i in range(400) %}{% for j in range(500) %}{% endfor %}{% endfor %}{{ n }}"  # a moment each
    seen: set[int] = set()
    most_busy = 0
    results: dict[int, str] = {}

    async def one(n: int) -> None:
        results[n] = await pool.render(source, {"n": n})

    async with pool.running(publish=False):
        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(one, n)
            while len(results) < 5:
                seen.update(pool.pids())
                most_busy = max(most_busy, pool.busy)
                await anyio.sleep(0.005)
        workers = pool.pids()
    assert results == {n: str(n) for n in range(5)}
    # the second render found the first one's worker busy and started its own; the others waited
    assert len(workers) == 2 and seen == set(workers)
    assert most_busy <= 2
    assert all(gone(pid) for pid in workers)


def test_a_worker_imports_the_sandbox_not_the_hub() -> None:
    command = workers._command()
    boot = command[3].replace("main()\n", "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hub'))\n")
    assert boot != command[3]
    shown = subprocess.run([*command[:3], boot, *command[4:]], env={}, capture_output=True, text=True, check=True)
    imported = ["hub", "hub.errors", "hub.templates", "hub.templates.render_worker", "hub.templates.rendering"]
    assert shown.stdout.strip() == str([*imported, "hub.templates.sandbox"])


async def test_a_worker_killed_while_idle_is_replaced_without_failing_the_next_render() -> None:
    pool = RenderWorkers(size=1, timeout=10.0)
    async with pool.running(publish=False):
        assert await pool.render(LIGHT, {"name": "a"}) == "Hello a"
        [idle] = pool.pids()
        os.kill(idle, signal.SIGKILL)  # the OOM killer, an operator's kill: not the next template's doing
        await wait_for(lambda: (stat := procfs.stat(idle)) is None or stat.zombie)
        assert await pool.render(LIGHT, {"name": "b"}) == "Hello b"
        [fresh] = pool.pids()
        assert fresh != idle and gone(idle)
    assert gone(fresh)


async def test_no_worker_outlives_the_hub_even_one_that_is_rendering(quick: Settings) -> None:
    quick.render_timeout = 60.0  # the heavy render is still going when the hub stops
    quick.render_workers = 2
    outcome: list[ServiceUnavailable] = []

    async def heavy(pool: RenderWorkers) -> None:
        try:
            await pool.render(HEAVY, {})
        except ServiceUnavailable as exc:  # its worker was killed under it: the hub is stopping
            outcome.append(exc)

    async with anyio.create_task_group() as group:
        async with hub_running(quick) as app:
            pool = app.services.get(RenderWorkers)
            group.start_soon(heavy, pool)
            await wait_for(lambda: pool.busy == 1)
            assert await pool.render(LIGHT, {"name": "x"}) == "Hello x"  # a second worker, idle afterwards
            workers = pool.pids()
            assert len(workers) == 2 and pool.busy == 1
        assert all(gone(pid) for pid in workers), "a render worker outlived its hub"
    assert outcome and "stopping" in outcome[0].message


async def test_through_serve_a_viewers_heavy_render_gets_a_4xx_and_leaves_no_busy_worker(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_RENDER_TIMEOUT="0.3", GOOSUKE_RENDER_WORKERS="1")
    url = f"http://127.0.0.1:{port}"
    with serving(env, port, log=tmp_path / "serve.log") as proc:
        admin_token = (tmp_path / "data" / "admin.token").read_text().strip()
        async with httpx2.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
        ) as admin:
            for template in TEMPLATES:
                created = await admin.post("/api/tools/template_create", json=template)
                assert created.status_code == 200, created.text
            user = {"username": "vic", "password": "long-enough-pw", "role": "viewer"}
            assert (await admin.post("/api/tools/user_create", json=user)).status_code == 200
            token = {"name": "v", "role": "viewer", "username": "vic"}
            issued = await admin.post("/api/tools/token_create", json=token)
            assert issued.status_code == 200, issued.text
        viewer_headers = {"Authorization": f"Bearer {issued.json()['token']}"}
        async with httpx2.AsyncClient(base_url=url, headers=viewer_headers, timeout=60) as viewer:
            warm = await viewer.post("/api/tools/template_render", json={"name": "light"})
            assert warm.status_code == 200 and warm.json()["prompt"] == "Hello world", warm.text
            [worker] = worker_children(proc.pid)
            assert procfs.environ(worker) == b"", "a render worker inherited the hub's environment"

            answers: list[httpx2.Response] = []

            async def heavy() -> None:
                answers.append(await viewer.post("/api/tools/template_render", json={"name": "heavy"}))

            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(heavy)
            for answer in answers:
                assert 400 <= answer.status_code < 500, answer.text
                assert answer.json()["errors"][0]["field"] == "prompt"
            assert gone(worker), "the killed worker is still there"
            assert all(state != "R" for state in worker_children(proc.pid).values()), "a worker is still busy"

            again = await viewer.post("/api/tools/template_render", json={"name": "light"})
            assert again.status_code == 200 and again.json()["prompt"] == "Hello world", again.text
            [last] = worker_children(proc.pid)
            assert last != worker
        # a hub that dies without stopping (SIGKILL) still leaves no worker: it reads the end of its pipe
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        await wait_for(lambda: (stat := procfs.stat(last)) is None or stat.zombie, timeout=15)


async def test_no_worker_outlives_goosuke_serve(tmp_path: Path, database_url: str, port: int) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_RENDER_WORKERS="2")
    url = f"http://127.0.0.1:{port}"
    with serving(env, port) as proc:
        token = (tmp_path / "data" / "admin.token").read_text().strip()
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            assert (await http.post("/api/tools/template_create", json=TEMPLATES[1])).status_code == 200
            rendered = await http.post("/api/tools/template_render", json={"name": "light"})
            assert rendered.status_code == 200, rendered.text
        workers = worker_children(proc.pid)
        assert workers
    assert proc.returncode is not None
    assert all(gone(pid) for pid in workers), "a render worker outlived goosuke serve"
