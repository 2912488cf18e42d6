"""Goosuke's core. Tool, resource and agent authors need only the names in ``__all__``."""

__version__ = "0.1.0"

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
from hub.principal import Principal, Role
from hub.registry import Call, Plugin

__all__ = [
    "AgentRunError",
    "AppContext",
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
