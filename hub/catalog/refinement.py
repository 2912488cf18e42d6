"""extension_recommend's refinement: the ``openai`` agent re-ranks the catalog for the task.

It runs the library template ``recommend-extensions`` (agent ``openai``, a response schema) through the
engine like any other run, so the call is an execution row with its log, usage and cost, and a team
can change the prompt or the model by editing that template. Anything that goes wrong (no endpoint,
an error, an answer outside the catalog, a slow model) leaves the offline ranking in place and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.catalog.entries import ServerJson
from hub.engine import Engine, trigger_of
from hub.errors import GoosukeError
from hub.plugin import Call
from hub.settings import Settings

TEMPLATE = "recommend-extensions"
WAIT_SECONDS = 90.0  # the longest extension_recommend waits for the model before it answers offline
MAX_TASK_CHARS = 8000
DEFAULT_BASE_URL = Settings.model_fields["openai_base_url"].default


@dataclass
class Refinement:
    """The model's picks, best first, as ``(short_name, why)``; empty when it did not help (``note`` says why)."""

    picks: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    execution_id: str | None = None


def endpoint_configured(settings: Settings) -> bool:
    """An OpenAI-compatible endpoint is set up: a key, or a base URL of its own (Ollama, vLLM... need no key)."""
    return settings.openai_api_key is not None or settings.openai_base_url != DEFAULT_BASE_URL


def wanted(call: Call, refine: bool | None) -> tuple[bool, str | None]:
    """Whether to refine, and when it was asked for (or left unset) but cannot be, why (``refine`` unset:
    when an endpoint is configured)."""
    if refine is False:
        return False, None
    if refine is None and not endpoint_configured(call.app.settings):
        return False, "no OpenAI-compatible endpoint is configured (GOOSUKE_OPENAI_BASE_URL, GOOSUKE_OPENAI_API_KEY)"
    if not call.principal.may("templates.run"):
        return False, "refining runs a template, which needs the templates.run permission"
    if Engine not in call.app.services:
        return False, "this hub has no engine to run the refinement"
    return True, None


async def refine(call: Call, task: str, entries: Sequence[ServerJson], limit: int) -> Refinement:
    """Ask the model, through the ``recommend-extensions`` template, which of ``entries`` the task needs."""
    engine = call.app.services.get(Engine)
    catalog = "\n".join(f"- {e.short_name}: {e.title or e.short_name}. {e.description}" for e in entries)
    trigger = trigger_of(call, ref="extension_recommend")
    try:
        info = await engine.submit(
            TEMPLATE, {"task": task[:MAX_TASK_CHARS], "catalog": catalog, "limit": limit}, trigger=trigger
        )
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
    model = info.usage.model if info.usage and info.usage.model else call.app.settings.openai_model
    return Refinement(picks=picks[:limit], note=f"re-ranked by {model} (execution {info.id})", execution_id=info.id)
