"""The hub's one shallow error tree.

    GoosukeError                    every error the hub raises on purpose
    ├── ConfigError                 a setting or declaration is wrong (raised at start-up)
    │   └── ServiceUnavailable      a service was asked for while it is not running (503)
    ├── AuthError                   no, bad, expired or wrong-audience credentials (HTTP 401)
    ├── PermissionDenied            the caller's role may not do this (403)
    ├── PayloadTooLarge             the request body is over the limit (413)
    ├── RateLimited                 too many attempts; retry after ``retry_after`` seconds (429)
    ├── ToolError                   a tool call cannot be carried out (400)
    │   ├── BadRequest              the request body is not JSON (400)
    │   ├── InvalidArguments        arguments do not match the tool's input model (422)
    │   ├── NotFound                the named thing does not exist (404)
    │   └── Conflict                the change clashes with the current state (409)
    └── AgentRunError               an agent could not run or failed while running (502)

Every message says what happened and what to do about it; none carries a secret value.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any


class GoosukeError(Exception):
    """Root of the hub's errors. ``status`` is the HTTP status the facade answers with."""

    status: int = 400
    title: str = "Request failed"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class ConfigError(GoosukeError):
    status = 500
    title = "Configuration error"


class ServiceUnavailable(ConfigError):
    """A service was asked for while it is not running (the hub is starting or stopping)."""

    status = 503
    title = "Service unavailable"


class AuthError(GoosukeError):
    status = 401
    title = "Authentication required"


class PermissionDenied(GoosukeError):
    status = 403
    title = "Permission denied"


class PayloadTooLarge(GoosukeError):
    status = 413
    title = "Payload too large"


class RateLimited(GoosukeError):
    """Too many attempts (failed logins, ...): the answer carries ``Retry-After: retry_after``."""

    status = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, errors=errors)
        self.retry_after = max(1, retry_after)


class ToolError(GoosukeError):
    status = 400
    title = "Tool call failed"


class BadRequest(ToolError):
    status = 400
    title = "Bad request"


class InvalidArguments(ToolError):
    status = 422
    title = "Invalid arguments"


class NotFound(ToolError):
    status = 404
    title = "Not found"


class Hidden(NotFound):
    """An object exists but the caller may not see it: answered as not found, recorded as a denial."""


class Conflict(ToolError):
    status = 409
    title = "Conflict"


class AgentRunError(GoosukeError):
    status = 502
    title = "Agent failed"


def describe_validation_errors(errors: list[Any], model: Any = None) -> list[dict[str, Any]]:
    """Turn pydantic's error list into ``[{field, message, type}]`` without echoing the rejected values.

    With the ``model`` (or type) that was validated, an unknown field's message names the closest
    valid field at that place, aliases included: "unknown field `parameters`; did you mean `params`?"
    (or lists the valid ones when none is close), and the tags pydantic puts in a location to say
    which member of a union it tried (``extension.stdio.cmd``) are left out of ``field``. Unknown
    fields come first: they usually explain the errors after them (a missing ``username`` when
    ``user`` was sent).
    """
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        names, shown = _walk(model, loc[:-1]) if model is not None else (None, [str(p) for p in loc[:-1]])
        path = [*shown, *(str(p) for p in loc[-1:])]
        field = ".".join(path) or "(body)"
        message = err.get("msg", "invalid value")
        if kind == "extra_forbidden" and loc:
            message = _unknown_field(str(loc[-1]), shown, names)
        out.append({"field": field, "message": message, "type": kind})
    out.sort(key=lambda d: d["type"] != "extra_forbidden")
    return out


def summarize_validation_errors(details: list[dict[str, Any]]) -> str:
    """The ``details`` of :func:`describe_validation_errors` as one sentence for a message: an unknown
    field's own message; ``field: message`` for the others, except a missing field that an unknown
    field's suggestion already names."""
    suggested = {d["message"].rsplit("`", 2)[-2] for d in details if "did you mean `" in d["message"]}
    parts = [
        d["message"] if d["type"] == "extra_forbidden" else f"{d['field']}: {d['message']}"
        for d in details
        if not (d["type"] == "missing" and d["field"] in suggested)
    ]
    text = "; ".join(parts)
    return text if text.endswith(("?", ".")) else text + "."


def _unknown_field(name: str, shown: list[str], names: list[str] | None) -> str:
    prefix = "".join(f"{p}." for p in shown)
    message = f"unknown field `{prefix}{name}`"
    if not names:
        return message
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    if close:
        return f"{message}; did you mean `{prefix}{lowered[close[0]]}`?"
    return f"{message}; the fields here are " + ", ".join(f"`{n}`" for n in names)


def _walk(model: Any, loc: tuple[Any, ...]) -> tuple[list[str] | None, list[str]]:
    """Follow ``loc`` from ``model``: the field names valid at its end (None when unknown) and the
    location as a person reads it (union tags left out)."""
    tp: Any = model
    shown: list[str] = []
    for part in loc:
        step = _step(tp, part)
        if step is None:  # somewhere the walk cannot follow: keep pydantic's location as it is
            shown.append(str(part))
            tp = None
            continue
        tp, visible = step
        if visible:
            shown.append(str(part))
    return _field_names(tp), shown


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[Any]:
    """The members of a union (``None`` left out), or ``[tp]``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _step(tp: Any, part: Any) -> tuple[Any, bool] | None:
    """Where ``part`` of a location leads from ``tp``, and whether a person sees it (union tags not)."""
    if tp is None:
        return None
    members = _members(_unwrap(tp))
    if len(members) > 1:
        for member in members:
            if _is_model(member) and (member.__name__ == part or part in _tags(member)):
                return member, False
        for member in members:
            found = _step(member, part)
            if found is not None:
                return found
        return None
    tp = members[0]
    if _is_model(tp):
        for name, info in tp.model_fields.items():
            if part == name or part in _aliases(info):
                return info.annotation, True
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(part, int) and origin in (list, tuple, set, frozenset) and args:
        return args[0], True
    if origin is dict and len(args) == 2:
        return args[1], True
    return None


def _field_names(tp: Any) -> list[str] | None:
    if tp is None:
        return None
    names: list[str] = []
    for member in _members(_unwrap(tp)):
        if not _is_model(member):
            continue
        for name, info in member.model_fields.items():
            names.extend(n for n in (name, *_aliases(info)) if n not in names)
    return names or None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_fields") and hasattr(tp, "model_validate")


def _aliases(info: Any) -> list[str]:
    found: list[str] = []
    for alias in (info.alias, info.validation_alias):
        if isinstance(alias, str):
            found.append(alias)
        elif alias is not None and hasattr(alias, "choices"):  # AliasChoices
            found.extend(c for c in alias.choices if isinstance(c, str))
    return found


def _tags(model: Any) -> set[str]:
    """The literal values of a model's fields: the tags a discriminated union picks it by."""
    tags: set[str] = set()
    for info in model.model_fields.values():
        annotation = _unwrap(info.annotation)
        if typing.get_origin(annotation) is typing.Literal:
            tags.update(str(v) for v in typing.get_args(annotation))
    return tags
