"""How the hub shows each extension's tools, resources, resource templates and prompts: renamed into the
hub's namespace (``{key}__{name}``, ``goosuke-ext://{key}/{uri}``) and marked with the role they need and the
extension they come from. Built from what the last start discovered; listing never starts a server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp_types import Prompt as MCPPrompt
from mcp_types import Resource as MCPResource
from mcp_types import ResourceTemplate as MCPResourceTemplate
from mcp_types import Tool as MCPTool

from hub.extensions.store import ExtensionRecord

SEP = "__"
URI_PREFIX = "goosuke-ext://"
MAX_NAME = 128  # MCP tool names are at most 128 characters


def meta(record: ExtensionRecord, original: dict[str, Any] | None) -> dict[str, Any]:
    return {**(original or {}), "goosuke/role": record.role.value, "goosuke/extension": record.key}


def allowed_tool(record: ExtensionRecord, tool: str) -> bool:
    available = record.config.available_tools
    return not available or tool in available


def tools(records: Iterable[ExtensionRecord], taken: set[str]) -> list[MCPTool]:
    """The tools of ``records``, skipping names in ``taken`` (the registry's) and names over MAX_NAME."""
    out: list[MCPTool] = []
    for record in records:
        for tool in (record.discovered or {}).get("tools", []):
            name = f"{record.key}{SEP}{tool['name']}"
            if len(name) > MAX_NAME or name in taken or not allowed_tool(record, tool["name"]):
                continue
            taken.add(name)
            data = {**tool, "name": name, "_meta": meta(record, tool.get("_meta"))}
            if data.get("title") is None and data.get("annotations", {}).get("title") is None:
                data["title"] = f"{tool['name']} ({record.name})"
            out.append(MCPTool.model_validate(data))
    return out


def resources(records: Iterable[ExtensionRecord]) -> list[MCPResource]:
    out: list[MCPResource] = []
    for record in records:
        for resource in (record.discovered or {}).get("resources", []):
            data = {**resource, "uri": f"{URI_PREFIX}{record.key}/{resource['uri']}"}
            data["name"] = f"{record.key}{SEP}{resource.get('name', '')}"
            data["_meta"] = meta(record, resource.get("_meta"))
            out.append(MCPResource.model_validate(data))
    return out


def resource_templates(records: Iterable[ExtensionRecord]) -> list[MCPResourceTemplate]:
    out: list[MCPResourceTemplate] = []
    for record in records:
        for template in (record.discovered or {}).get("resource_templates", []):
            data = {**template, "uriTemplate": f"{URI_PREFIX}{record.key}/{template['uriTemplate']}"}
            data["name"] = f"{record.key}{SEP}{template.get('name', '')}"
            data["_meta"] = meta(record, template.get("_meta"))
            out.append(MCPResourceTemplate.model_validate(data))
    return out


def prompts(records: Iterable[ExtensionRecord]) -> list[MCPPrompt]:
    out: list[MCPPrompt] = []
    for record in records:
        for prompt in (record.discovered or {}).get("prompts", []):
            data = {**prompt, "name": f"{record.key}{SEP}{prompt['name']}"}
            data["_meta"] = meta(record, prompt.get("_meta"))
            out.append(MCPPrompt.model_validate(data))
    return out
