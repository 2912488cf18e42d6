"""What the teams policy costs: a tool call with and without the gate, and lists for a caller in 1 vs 50 teams.

    .venv/bin/python -m bench.teams_bench [--calls 2000] [--templates 1000]

In process, one hub on SQLite in a temporary folder, principals made by the real token verifier
(live grants read from the database). The baseline is the same hub's call path with the gate
replaced by "allow" (``Registry.denial``), measured in the same run. Writes bench/results/teams.md.
Numbers are for comparison within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from hub import accounts
from hub.app import build_context, running
from hub.db.models import TaskTemplate, Team, TeamMember
from hub.plugin import Call
from hub.principal import LOCAL_OWNER, Principal, Role
from hub.registry import Registry
from hub.settings import Settings

RESULTS = Path(__file__).parent / "results"


async def timed(calls: int, fn: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(min(50, calls)):
        await fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {"p50_us": statistics.median(samples) * 1e6, "p95_us": samples[int(len(samples) * 0.95) - 1] * 1e6}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--templates", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), log_level="WARNING")  # type: ignore[call-arg]
        app = build_context(settings, transport="http")
        async with running(app):
            rows = await measure(app, args.calls, args.templates)
    text = report(rows, args.templates)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "teams.md").write_text(text)
    print(text)


async def measure(app: Any, calls: int, templates: int) -> list[tuple[str, dict[str, float]]]:
    registry: Registry = app.registry
    owner = Call(principal=LOCAL_OWNER, app=app, via="api")
    for i in range(templates):
        template = {"name": f"t{i:04d}", "title": f"T {i}", "prompt": "Say hello"}
        await registry.call_tool("template_create", template, owner)
    async with app.db.session() as session:
        team_ids = []
        for i in range(50):
            team = Team(name=f"dept-{i:02d}", created_by="bench")
            session.add(team)
            await session.flush()
            team_ids.append(team.id)
        for i in range(templates):  # 1,000 templates over 50 teams, 20 each
            await session.execute(
                update(TaskTemplate).where(TaskTemplate.name == f"t{i:04d}").values(team_id=team_ids[i % 50])
            )
        tokens = {}
        for label, count in (("1 team", 1), ("50 teams", 50)):
            user = await accounts.create_user(session, f"u{count}", None, Role.viewer)
            user.role = "member"
            for team_id in team_ids[:count]:
                session.add(TeamMember(team_id=team_id, user_id=user.id, role="operator"))
            _, tokens[label] = await accounts.create_token(session, f"u{count}", Role.admin, user_id=user.id)
    assert app.verifier is not None
    principals: dict[str, Principal] = {label: await app.verifier.authenticate(t) for label, t in tokens.items()}
    one = Call(principal=principals["1 team"], app=app, via="api")
    rows: list[tuple[str, dict[str, float]]] = []

    async def whoami() -> None:
        await registry.call_tool("whoami", {}, one)

    real = Registry.__dict__["denial"]  # the staticmethod itself
    allow = staticmethod(lambda spec, principal: None)
    gated: list[dict[str, float]] = []
    ungated: list[dict[str, float]] = []
    for _ in range(10):  # interleaved rounds, so a noisy neighbour slows both alike
        gated.append(await timed(calls // 10, whoami))
        Registry.denial = allow  # type: ignore[method-assign,assignment]
        try:
            ungated.append(await timed(calls // 10, whoami))
        finally:
            Registry.denial = real  # type: ignore[method-assign]  # put back
    rows.append(("whoami, gate on (1 team)", merged(gated)))
    rows.append(("whoami, gate replaced by allow", merged(ungated)))
    for label, principal in (*principals.items(), ("admin (no filter)", LOCAL_OWNER)):
        call = Call(principal=principal, app=app, via="api")

        async def listing(call: Call = call) -> None:
            await registry.call_tool("template_list", {"limit": 50}, call)

        def tools(principal: Principal = principal) -> Awaitable[None]:
            async def run() -> None:
                registry.callable_tools(principal)

            return run()

        rows.append((f"template_list (50 of {templates}), {label}", await timed(max(calls // 10, 50), listing)))
        rows.append((f"tools/list filter, {label}", await timed(calls, tools)))
    return rows


def merged(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def report(rows: list[tuple[str, dict[str, float]]], templates: int) -> str:
    lines = [
        "# Teams: the policy's cost",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, in process on SQLite; {templates} templates over "
        "50 teams; callers are members (operator) of 1 or of 50 teams.",
        "",
        "| what | p50 µs | p95 µs |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {r['p50_us']:.0f} | {r['p95_us']:.0f} |" for name, r in rows]
    gate, allow = rows[0][1]["p50_us"], rows[1][1]["p50_us"]
    lines += ["", f"The tool gate costs {gate - allow:+.0f} µs per call at p50 ({gate / allow * 100 - 100:+.1f} %)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    asyncio.run(main())
