"""Templates as MCP resources (goosuke://templates/{name}) and as MCP prompts whose arguments are
their parameters, so Claude Desktop and Goose can pick templates from their prompt menus.

Both keep to the templates the caller may see (``hub.templates.access``): prompts/list shows only those,
and a prompt or resource of a template the caller may not see is NotFound, as if absent."""

from __future__ import annotations

from mcp_types import GetPromptResult, Prompt, PromptArgument, PromptMessage, TextContent

from hub import AppContext, Call, Plugin, Principal
from hub.db.models import TaskTemplate
from hub.teams.policy import can_see, visible
from hub.templates import access, store
from hub.templates import preview as previews
from hub.templates.definition import Parameter
from hub.templates.store import TemplateInfo

plugin = Plugin("template-resources")

MAX_PROMPTS = 1000  # prompts/list shows at most this many templates (by name)


@plugin.resource("goosuke://templates/{name}", name="template", permission=access.READ)
async def template_resource(call: Call, name: str) -> TemplateInfo:
    """A task template in full (prompt, parameters, agent settings, version, team, visibility)."""
    async with call.app.db.session() as session:
        return await access.info_of(session, await access.visible_row(session, call.principal, name))


def _argument(parameter: Parameter) -> PromptArgument:
    hint: str = parameter.input_type
    if parameter.options:
        hint += f": one of {', '.join(parameter.options)}"
    if parameter.default is not None:
        hint += f"; default {parameter.default}"
    text = f"{parameter.description} ({hint})" if parameter.description else hint
    return PromptArgument(name=parameter.key, description=text, required=parameter.requirement != "optional")


class TemplatePrompts:
    """Every template the caller may see is a prompt: its arguments are the template's parameters."""

    async def list_prompts(self, app: AppContext, principal: Principal) -> list[Prompt]:
        if not principal.may(access.READ):
            return []
        async with app.db.session() as session:
            rows, _ = await store.list_rows(
                session,
                tag=None,
                agent=None,
                search=None,
                limit=MAX_PROMPTS,
                offset=0,
                where=visible(principal, access.READ, TaskTemplate),
            )
            return [
                Prompt(
                    name=row.name,
                    title=row.title,
                    description=row.description or row.title,
                    arguments=[_argument(Parameter.model_validate(p)) for p in row.parameters or []],
                )
                for row in rows
            ]

    async def get_prompt(
        self, app: AppContext, principal: Principal, name: str, arguments: dict[str, str]
    ) -> GetPromptResult | None:
        async with app.db.session() as session:
            row = await store.find_row(session, name)
            if row is None or not can_see(principal, access.READ, row):
                return None  # not this source's: the caller gets the hub's "unknown prompt", as if absent
        preview = await previews.prepare(app.db.read, name, arguments)
        text = f"{preview.instructions}\n\n{preview.prompt}" if preview.instructions else preview.prompt
        return GetPromptResult(
            description=f"{name} v{preview.version}",
            messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
        )


plugin.provide("prompts", "templates", TemplatePrompts())
