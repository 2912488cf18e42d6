"""Goosuke's core. Tool, resource and agent authors need only the names in ``__all__``."""

from hub._version import __version__
from hub.context import AppContext
from hub.errors import (
    AgentRunError,
    AuthError,
    ConfigError,
    Conflict,
    GoosukeError,
    InvalidArguments,
    NotFound,
    PermissionDenied,
    ToolError,
)
from hub.plugin import Arguments, Call, Plugin
from hub.principal import Principal, Role

__all__ = [
    "AgentRunError",
    "AppContext",
    "Arguments",
    "AuthError",
    "Call",
    "ConfigError",
    "Conflict",
    "GoosukeError",
    "InvalidArguments",
    "NotFound",
    "PermissionDenied",
    "Plugin",
    "Principal",
    "Role",
    "ToolError",
    "__version__",
]
