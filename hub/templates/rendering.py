"""Rendering template text: compile, parse, render in the bounded sandbox.

The sandbox and its budgets are in ``sandbox.py``; every refusal is an :class:`InvalidArguments`
naming the field (``prompt`` or ``instructions``). :func:`render` renders here, bounded by the sandbox
alone (tests, scripts, and the render workers themselves); the hub renders through :func:`render_async`,
in a worker process that is killed when it takes too long (``workers.py``). A render worker imports this
module, so it imports nothing of the hub beyond ``hub.errors`` and the sandbox.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.nodes import Template as JinjaAst

from hub.errors import InvalidArguments
from hub.templates.sandbox import (
    MAX_RENDER_STEPS,
    MAX_RENDERED_CHARS,
    MAX_WORK_CHARS,
    RENDER_TIMEOUT,
    SANDBOX,
    RenderLimit,
    stream,
)

__all__ = [
    "MAX_RENDERED_CHARS",
    "MAX_RENDER_STEPS",
    "MAX_WORK_CHARS",
    "RENDER_TIMEOUT",
    "compiled",
    "is_plain",
    "parse",
    "render",
    "render_async",
    "variables_of",
]


@functools.lru_cache(maxsize=512)
def _compiled_cached(source: str) -> Any:
    return SANDBOX.from_string(source)


def _syntax_error(exc: TemplateSyntaxError, label: str) -> InvalidArguments:
    return InvalidArguments(
        f"The {label} has a Jinja syntax error on line {exc.lineno}: {exc.message}. "
        "Use {{ name }} for parameters and {% if %}/{% for %} blocks as in Goose recipes.",
        errors=[{"field": label, "message": str(exc.message), "type": "template_syntax"}],
    )


def _too_deep(label: str) -> InvalidArguments:
    return InvalidArguments(
        f"The {label} nests expressions too deeply for the template engine. Use fewer nested brackets or blocks.",
        errors=[{"field": label, "message": "nested too deeply", "type": "template_syntax"}],
    )


def compiled(source: str, label: str) -> Any:
    """The compiled template (cached per source text)."""
    try:
        return _compiled_cached(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, label) from None
    except RecursionError:  # Jinja's parser and compiler recurse once per nesting level
        raise _too_deep(label) from None


def parse(source: str, label: str) -> JinjaAst:
    try:
        return SANDBOX.parse(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, label) from None
    except RecursionError:
        raise _too_deep(label) from None


def is_plain(source: str) -> bool:
    """True when ``source`` holds no Jinja syntax at all: it renders to itself."""
    return "{" not in source


def variables_of(source: str, label: str = "prompt") -> set[str]:
    """The undeclared variables a Jinja text uses (its parameters)."""
    return set(meta.find_undeclared_variables(parse(source, label)))


def render(source: str, values: Mapping[str, Any], label: str = "prompt", *, timeout: float = RENDER_TIMEOUT) -> str:
    """Render Jinja text in the sandbox (synchronously; prefer :func:`render_async` in the hub).

    Raises:
        InvalidArguments: undefined variable, forbidden operation, syntax or runtime error, too long, too
            much work.
    """
    template = compiled(source, label)
    try:
        return stream(template, values, timeout)
    except RenderLimit as exc:
        raise InvalidArguments(
            f"The {label} was stopped: {exc}.",
            errors=[{"field": label, "message": str(exc), "type": "template_limit"}],
        ) from None
    except UndefinedError as exc:
        raise InvalidArguments(
            f"The {label} uses something undefined ({exc.message}). Every variable must be a parameter of the "
            "template; check the spelling.",
            errors=[{"field": label, "message": str(exc.message), "type": "template_undefined"}],
        ) from None
    except SecurityError as exc:
        raise InvalidArguments(
            f"The {label} tried something the template sandbox forbids ({exc}). Templates may use their "
            "parameters, Jinja filters and tests, not Python internals.",
            errors=[{"field": label, "message": "forbidden by the sandbox", "type": "template_security"}],
        ) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise InvalidArguments(
            f"Rendering the {label} failed: {type(exc).__name__}: {exc}.",
            errors=[{"field": label, "message": "render error", "type": "template_render"}],
        ) from None


async def render_async(source: str, values: Mapping[str, Any], label: str = "prompt") -> str:
    """:func:`render` in a render worker process, so a heavy template never stalls the event loop and is
    killed at the hub's ``render_timeout`` (a text without Jinja syntax is its own rendering).

    Raises:
        InvalidArguments: as :func:`render`, or the rendering took too long (naming the field).
    """
    if is_plain(source):  # nothing that could run long: render here, without a worker
        return render(source, values, label)
    from hub.templates.workers import render_killable  # the pool: not imported by the workers themselves

    return await render_killable(source, values, label)
