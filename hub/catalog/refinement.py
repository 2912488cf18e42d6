"""extension_recommend's refinement: the default runner's model re-ranks the catalog for the task.

It runs the library template ``recommend-extensions`` (no agent of its own, so it runs on the default runner
like the other built-ins; a response schema, which every agent honours) through the engine like any other run,
so the call is an execution row with its log, usage and cost. A team changes the prompt with a copy
(template_copy) and the model by changing the default runner. Left unset, ``refine`` asks the model when one is
configured: a default runner has been marked (``goosuke setup``, or runner_create/runner_update ``default``),
or the legacy ``GOOSUKE_OPENAI_*`` settings are set; with the latter alone the run goes to the built-in
``openai`` runner, as it did before the template followed the default runner. Anything that goes wrong (an
error, an answer outside the catalog, a slow model) leaves the offline ranking in place and says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, true

from hub.catalog.entries import ServerJson
from hub.context import AppContext
from hub.db.models import RunnerRow, TaskTemplate
from hub.engine import Engine, trigger_of
from hub.errors import GoosukeError
from hub.plugin import Call
from hub.settings import Settings
from hub.templates.preview import RunPreview

TEMPLATE = "recommend-extensions"
WAIT_SECONDS = 90.0  # the longest extension_recommend waits for the model before it answers offline
MAX_TASK_CHARS = 8000
DEFAULT_BASE_URL = Settings.model_fields["openai_base_url"].default
NOT_CONFIGURED = (
    "no model is configured: run `goosuke setup` (it makes the default runner), mark a runner default "
    "(runner_update default=true), or set GOOSUKE_OPENAI_BASE_URL and GOOSUKE_OPENAI_API_KEY"
)


@dataclass
class Refinement:
    """The model's picks, best first, as ``(short_name, why)``; empty when it did not help (``note`` says why)."""

    picks: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    execution_id: str | None = None


def legacy_endpoint(settings: Settings) -> bool:
    """The legacy ``GOOSUKE_OPENAI_*`` endpoint is set up: a key, or a base URL of its own (Ollama, vLLM... need
    no key)."""
    return settings.openai_api_key is not None or settings.openai_base_url != DEFAULT_BASE_URL


async def default_runner_marked(app: AppContext) -> bool:
    """A runner is marked default (by ``goosuke setup`` or the runner tools)."""
    async with app.db.session() as session:
        query = select(RunnerRow.name).where(RunnerRow.is_default == true()).limit(1)
        return await session.scalar(query) is not None


async def endpoint_configured(app: AppContext) -> bool:
    """A model is configured: a marked default runner, or the legacy ``GOOSUKE_OPENAI_*`` settings."""
    return legacy_endpoint(app.settings) or await default_runner_marked(app)


async def wanted(call: Call, refine: bool | None) -> tuple[bool, str | None]:
    """Whether to refine, and when it was asked for (or left unset) but cannot be, why (``refine`` unset:
    when a model is configured, :func:`endpoint_configured`)."""
    if refine is False:
        return False, None
    if refine is None and not await endpoint_configured(call.app):
        return False, NOT_CONFIGURED
    if not call.principal.may("templates.run"):
        return False, "refining runs a template, which needs the templates.run permission"
    if Engine not in call.app.services:
        return False, "this hub has no engine to run the refinement"
    return True, None


async def _on_legacy_endpoint(app: AppContext, preview: RunPreview) -> RunPreview:
    """The preview on the built-in ``openai`` runner when no runner is marked default, the template follows the
    default runner and only the legacy ``GOOSUKE_OPENAI_*`` endpoint is configured (else the unchanged preview:
    without a marked default the built-in ``goose`` runner is the default, which that hub never set up)."""
    if not legacy_endpoint(app.settings) or await default_runner_marked(app):
        return preview
    async with app.db.session() as session:
        query = select(TaskTemplate.agent, TaskTemplate.runner).where(TaskTemplate.name == TEMPLATE)
        own = (await session.execute(query)).first()
    if own is None or own.agent is not None or own.runner is not None:
        return preview
    options = preview.options.model_copy(update={"runner": "openai"})
    return dataclasses.replace(preview, agent="openai", options=options)


async def refine(call: Call, task: str, entries: Sequence[ServerJson], limit: int) -> Refinement:
    """Ask the default runner's model, through the ``recommend-extensions`` template, which of ``entries`` the
    task needs."""
    engine = call.app.services.get(Engine)
    catalog = "\n".join(f"- {e.short_name}: {e.title or e.short_name}. {e.description}" for e in entries)
    trigger = trigger_of(call, ref="extension_recommend")
    try:
        preview = await engine.prepare(TEMPLATE, {"task": task[:MAX_TASK_CHARS], "catalog": catalog, "limit": limit})
        preview = await _on_legacy_endpoint(call.app, preview)
        info = await engine.submit_preview(preview, trigger=trigger)
        info = await engine.wait(info.id, WAIT_SECONDS)
    except GoosukeError as exc:
        return Refinement(note=f"the {TEMPLATE} template could not run: {exc.message}")
    if not info.final:
        await engine.cancel(info.id, actor=call.principal.name)
        return Refinement(
            note=f"the model took longer than {WAIT_SECONDS:g} s (execution {info.id})", execution_id=info.id
        )
    if info.status != "succeeded" or info.structured_output is None:
        return Refinement(note=f"execution {info.id} {info.status}: {info.error}", execution_id=info.id)
    known = {e.short_name for e in entries}
    picks: list[tuple[str, str]] = []
    for item in info.structured_output.get("recommendations", []):
        name = str(item.get("name", "")).strip()
        if name in known and name not in {p for p, _ in picks}:
            picks.append((name, str(item.get("why", "")).strip()))
    if not picks:
        return Refinement(note=f"the model named no server of the catalog (execution {info.id})", execution_id=info.id)
    model = info.usage.model if info.usage and info.usage.model else f"the {info.agent} agent"
    return Refinement(picks=picks[:limit], note=f"re-ranked by {model} (execution {info.id})", execution_id=info.id)
