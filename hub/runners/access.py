"""Which extensions a run may get: enabled ones its role may use, that its runner allows and its team may
use (``hub.extensions.access.run_may_have``); Goose built-ins only when the runner lists them."""

from __future__ import annotations

from collections.abc import Iterable

from hub.errors import PermissionDenied
from hub.extensions.access import run_may_have
from hub.extensions.schema import GOOSE_BUILTINS, HUB_EXTENSION
from hub.extensions.store import ExtensionStore
from hub.principal import Role
from hub.runners.model import RunOptions


async def refusals(
    extensions: Iterable[str],
    role: Role,
    options: RunOptions,
    store: ExtensionStore | None,
    team: str | None = None,
    creator: str | None = None,
) -> list[str]:
    """Why each refused extension is refused (empty: the run may have them all). Unknown names are left
    to the agent (it says what it knows). With ``team`` (the run's, started by ``creator``) another team's
    extension is refused too."""
    problems: list[str] = []
    runner = options.runner or "(built-in)"
    for name in extensions:
        allowed = options.allowed_extensions
        if allowed is not None and name not in allowed:
            problems.append(f"{name!r}: runner {runner!r} does not allow it (it allows {sorted(allowed)})")
            continue
        if name == HUB_EXTENSION:
            continue
        record = await store.find(name) if store is not None else None
        if record is None:
            if name in GOOSE_BUILTINS and name not in options.builtins:
                problems.append(f"{name!r}: a Goose built-in runner {runner!r} does not list in its builtins")
            continue
        builtin_name = str(getattr(record.config, "name", name))
        if record.type == "builtin" and name not in options.builtins and builtin_name not in options.builtins:
            problems.append(f"{name!r}: a Goose built-in runner {runner!r} does not list in its builtins")
        elif not record.enabled:
            problems.append(f"{name!r}: disabled (an admin enables it with extension_update)")
        elif not role.allows(record.role):
            problems.append(f"{name!r}: needs the {record.role.value} role; this run has {role.value}")
        elif team is not None and not run_may_have(record, team, creator):
            problems.append(f"{name!r}: another team's extension (share it with visibility public, or copy it)")
    return problems


async def check(
    extensions: Iterable[str],
    role: Role,
    options: RunOptions,
    store: ExtensionStore | None,
    team: str | None = None,
    creator: str | None = None,
) -> None:
    """Raises:
    PermissionDenied: naming every extension the run may not have, and why.
    """
    problems = await refusals(extensions, role, options, store, team, creator)
    if problems:
        raise PermissionDenied(
            f"This run may not have these extensions: {'; '.join(problems)}. Remove them from the template's "
            "extensions, or ask an admin to grant them (extension role, enabled flag, the runner's extensions "
            "and builtins).",
        )
