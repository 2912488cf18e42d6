"""Long histories, map-reduce: notes per chunk (one execution each), then the notes combined.

A template takes part when it has a ``stage`` parameter (``meeting-summary`` does): chunks of at most
``GOOSUKE_DISCORD_SUMMARY_CHUNK_CHARS`` characters run with ``stage=part`` in parallel, and their
notes are combined (``stage=combine``) by the action's own execution. Notes still over the budget are
condensed again, a few rounds at most. A template without ``stage`` gets the newest part that fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from hub.db.models import Action, DiscordRun
from hub.discord.failures import RunFailed, short
from hub.discord.text import chunk_lines
from hub.engine.records import Trigger
from hub.errors import GoosukeError
from hub.templates import store as templates
from hub.triggers.actions import run_owner

if TYPE_CHECKING:
    from hub.discord.runs import Runs

MAX_LEVELS = 3  # rounds of condensing notes before the rest is cut


async def stage_aware(runs: Runs, template: str) -> bool:
    """Can the template take notes (does it have a ``stage`` parameter)?"""
    async with runs.app.db.session() as session:
        definition = templates.definition_of(await templates.get_row(session, template))
    return any(p.key == "stage" for p in definition.parameters)


async def condense(
    runs: Runs, run: DiscordRun, action: Action, values: dict[str, Any], key: str, lines: list[str], trigger: Trigger
) -> tuple[str, bool]:
    """Map-reduce: notes per chunk (executions), combined until they fit the budget.

    Returns the text for the history parameter and whether it is notes (``stage=combine``)."""
    budget = runs.settings.discord_summary_chunk_chars
    if not await stage_aware(runs, action.template):  # the template cannot take notes: keep the newest part
        kept: list[str] = []
        size = 0
        for line in reversed(lines):
            size += len(line) + 1
            if size > budget - 100:
                break
            kept.append(line)
        dropped = len(lines) - len(kept)
        text = f"[{dropped} earlier message(s) left out: over the agent's budget]\n" + "\n".join(reversed(kept))
        return text, False
    base = {**action.params, **{k: values[f] for k, f in action.mapping.items() if f in values and k != key}}
    pieces = chunk_lines(lines, budget)
    for level in range(1, MAX_LEVELS + 1):
        notes = await _map(runs, run, action, base, key, pieces, level, trigger)
        joined = "\n\n".join(f"Notes on part {i} of {len(notes)}:\n{n}" for i, n in enumerate(notes, 1))
        if len(joined) <= budget or len(pieces) == 1:
            break
        regrouped = chunk_lines(notes, budget)
        if len(regrouped) >= len(pieces):  # the notes do not get shorter: stop condensing
            break
        pieces = regrouped
    return joined[:budget], True


async def _map(
    runs: Runs,
    run: DiscordRun,
    action: Action,
    base: dict[str, Any],
    key: str,
    pieces: list[str],
    level: int,
    trigger: Trigger,
) -> list[str]:
    outputs: list[str] = [""] * len(pieces)
    errors: list[str] = []

    async def one(index: int, piece: str) -> None:
        part = Trigger(kind="discord", actor=trigger.actor, ref=f"{trigger.ref} (part {level}.{index + 1})")
        try:
            info = await runs.engine.submit(
                action.template,
                {**base, key: piece, "stage": "part"},
                trigger=part,
                idempotency_key=f"discord:{action.id}:{run.message_id}:{level}:{index}",
                owner=run_owner(action),
            )
            info = await runs.wait(run.id, info.id)
        except (GoosukeError, RunFailed) as exc:
            errors.append(f"part {index + 1} of {len(pieces)}: {short(getattr(exc, 'message', str(exc)))}")
            return
        if info.status != "succeeded":
            errors.append(f"part {index + 1} of {len(pieces)} {info.status}: {short(info.error)}")
            return
        outputs[index] = (info.output or "").strip()

    async with anyio.create_task_group() as tg:
        for index, piece in enumerate(pieces):
            tg.start_soon(one, index, piece)
    if errors:
        raise RunFailed(errors[0])
    return outputs
