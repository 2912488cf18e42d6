"""The seams the kernel consults: it knows these protocols, never a domain's class.

- :class:`Readiness`: a running service that reports its state in ``/readyz`` and ``hub_info`` as a
  :class:`ReadinessReport` (``ready: False`` makes ``/readyz`` answer 503).
- :class:`CapabilitySource`: a running service whose tools, resources and prompts the MCP server
  serves beside the registry's (the federation of extensions is one).
- :class:`PromptSource`: a provider of kind ``prompts``, MCP prompts computed per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mcp.server.lowlevel.helper_types import ReadResourceContents
    from mcp_types import CallToolResult, GetPromptResult
    from mcp_types import Prompt as MCPPrompt
    from mcp_types import Resource as MCPResource
    from mcp_types import ResourceTemplate as MCPResourceTemplate
    from mcp_types import Tool as MCPTool

    from hub.context import AppContext
    from hub.principal import Principal


@dataclass(frozen=True)
class ReadinessReport:
    """What a :class:`Readiness` service says about itself.

    ``detail`` is the JSON-ready summary shown under the service's name in ``/readyz`` ``checks`` and
    ``hub_info`` ``services``. ``ready=False`` means the hub cannot do its work until an operator acts:
    ``/readyz`` answers 503 and ``reason`` (what is wrong and the fix) is shown. Neither may hold a
    secret or a key id: ``/readyz`` is public. A service that is merely degraded (an optional
    connection that is down) stays ``ready=True`` and says so in ``detail``.
    """

    ready: bool
    detail: Any
    reason: str | None = None


@runtime_checkable
class Readiness(Protocol):
    """A service with a state worth showing; ``readiness()`` is shown under ``readiness_name``."""

    readiness_name: str

    def readiness(self) -> ReadinessReport:
        """The service's state (never a secret); ``ready=False`` makes the hub not ready."""
        ...


@runtime_checkable
class CapabilitySource(Protocol):
    """Tools, resources and prompts served beside the registry's, each call made as ``principal``; each list
    holds only what ``principal`` may use."""

    def owns(self, name: str) -> bool:
        """Whether the tool or prompt ``name`` is this source's."""
        ...

    def tool_input_schema(self, name: str) -> dict[str, Any] | None: ...

    async def list_tools(self, principal: Principal) -> list[MCPTool]: ...

    async def call_tool(self, name: str, arguments: dict[str, Any], principal: Principal) -> CallToolResult: ...

    async def list_resources(self, principal: Principal) -> list[MCPResource]: ...

    async def list_resource_templates(self, principal: Principal) -> list[MCPResourceTemplate]: ...

    def serves_uri(self, uri: str) -> bool:
        """Whether the resource ``uri`` is this source's."""
        ...

    async def read_resource(self, uri: str, principal: Principal) -> list[ReadResourceContents]: ...

    async def list_prompts(self, principal: Principal) -> list[MCPPrompt]: ...

    async def get_prompt(
        self, name: str, arguments: dict[str, str], principal: Principal
    ) -> GetPromptResult | None: ...


class PromptSource(Protocol):
    """A provider of kind ``prompts``: MCP prompts computed at request time (e.g. from templates)."""

    async def list_prompts(self, app: AppContext, principal: Principal) -> list[MCPPrompt]:
        """The prompts ``principal`` may see."""
        ...

    async def get_prompt(
        self, app: AppContext, principal: Principal, name: str, arguments: dict[str, str]
    ) -> GetPromptResult | None:
        """The rendered prompt, or None when this source has no prompt of that name."""
        ...
