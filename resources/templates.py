"""Templates as MCP resources (goosuke://templates/{name}) and as MCP prompts whose arguments are
their parameters, so Claude Desktop and Goose can pick templates from their prompt menus."""

from __future__ import annotations

from mcp_types import GetPromptResult, Prompt, PromptArgument, PromptMessage, TextContent

from hub import AppContext, Call, Plugin, Principal
from hub.templates import preview as previews
from hub.templates import store
from hub.templates.definition import Parameter
from hub.templates.store import TemplateInfo

plugin = Plugin("template-resources")

MAX_PROMPTS = 1000  # prompts/list shows at most this many templates (by name)


@plugin.resource("goosuke://templates/{name}", name="template")
async def template_resource(call: Call, name: str) -> TemplateInfo:
    """A task template in full (prompt, parameters, agent settings, version)."""
    async with call.app.db.session() as session:
        return TemplateInfo.of(await store.get_row(session, name))


def _argument(parameter: Parameter) -> PromptArgument:
    hint: str = parameter.input_type
    if parameter.options:
        hint += f": one of {', '.join(parameter.options)}"
    if parameter.default is not None:
        hint += f"; default {parameter.default}"
    text = f"{parameter.description} ({hint})" if parameter.description else hint
    return PromptArgument(name=parameter.key, description=text, required=parameter.requirement != "optional")


class TemplatePrompts:
    """Every template is a prompt: its arguments are the template's parameters."""

    async def list_prompts(self, app: AppContext) -> list[Prompt]:
        async with app.db.session() as session:
            rows, _ = await store.list_rows(session, tag=None, agent=None, search=None, limit=MAX_PROMPTS, offset=0)
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
            if await store.find_row(session, name) is None:
                return None
        preview = await previews.prepare(app.db.read, name, arguments)
        text = f"{preview.instructions}\n\n{preview.prompt}" if preview.instructions else preview.prompt
        return GetPromptResult(
            description=f"{name} v{preview.version}",
            messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
        )


plugin.provide("prompts", "templates", TemplatePrompts())
