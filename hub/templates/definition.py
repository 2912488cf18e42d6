"""Task template definitions and their rendering in jinja2's sandbox.

A template is a prompt (plus optional instructions) written in Jinja syntax with typed parameters,
following Goose recipe semantics: optional parameters need a default, required ones cannot have
one, ``select`` needs options, and every parameter must be used (and every variable declared).
Rendering runs in a :class:`~jinja2.sandbox.SandboxedEnvironment` with ``StrictUndefined``: an
undefined variable, an attribute the sandbox forbids (``''.__class__``) or a runaway ``'x' * 10**9``
becomes an :class:`~hub.errors.InvalidArguments` that says what to fix, never a crash.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import anyio.to_thread
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.nodes import Template as JinjaAst
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.errors import InvalidArguments

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_SOURCE_CHARS = 200_000  # prompt or instructions as written
MAX_RENDERED_CHARS = 2_000_000  # what one rendering may produce (a long transcript fits)
MAX_PARAM_CHARS = 1_000_000  # one parameter value, as JSON
RENDER_TIMEOUT = 5.0  # seconds a rendering may take before it is abandoned (a pathological template)

InputType = Literal["string", "number", "boolean", "date", "select", "object", "array"]
Requirement = Literal["required", "optional", "user_prompt"]
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class Parameter(BaseModel):
    """One typed parameter, as in a Goose recipe."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="Variable name used in the prompt: {{ key }}.")
    input_type: InputType = Field(default="string", description="string|number|boolean|date|select|object|array")
    requirement: Requirement = Field(
        default="required", description="required (no default allowed) or optional (a default is needed)."
    )
    default: Any = Field(default=None, description="Default value of an optional parameter.")
    options: list[str] | None = Field(default=None, description="Allowed values of a select parameter.")
    description: str = Field(default="", max_length=2000)


class AgentSettings(BaseModel):
    """How the agent runs a template. Unset fields fall back to the hub's settings."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(default=None, max_length=64, description="Goose provider, e.g. openai, ollama.")
    model: str | None = Field(default=None, max_length=200, description="Model name for the provider.")
    max_turns: int | None = Field(default=None, ge=1, le=1000, description="Goose turn limit.")
    timeout: float | None = Field(
        default=None, gt=0, le=86_400, description="Seconds before the run is killed (timed_out)."
    )
    concurrency: int | None = Field(default=None, ge=1, le=1000, description="Runs of this template at once.")
    retries: int = Field(default=0, ge=0, le=10, description="Automatic retries after failure or interruption.")
    argv: list[str] | None = Field(default=None, description="command agent: program and arguments (no shell).")
    base_url: str | None = Field(default=None, max_length=500, description="openai agent: API base URL.")
    api_key_secret: str | None = Field(
        default=None, max_length=128, description="openai agent: name of the secret holding the API key."
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, description="Largest answer, in tokens.")
    response_schema: dict[str, Any] | None = Field(
        default=None,
        description=(
            "JSON Schema the final answer must match (a Goose recipe's response.json_schema): the answer is "
            "parsed as JSON and becomes structured_output; a run whose answer does not match fails."
        ),
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Free-form settings for plugin agents.")


class TemplateDefinition(BaseModel):
    """Everything that defines a template (what a version captures)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Unique name: lowercase letters, digits, - and _.")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    prompt: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="Jinja text sent to the agent.")
    instructions: str | None = Field(default=None, max_length=MAX_SOURCE_CHARS, description="System text (Jinja).")
    parameters: list[Parameter] = Field(default_factory=list)
    extensions: list[str] = Field(
        default_factory=list, description="Hub extensions the run needs; `goosuke` gives the agent the hub's tools."
    )
    agent: str = Field(default="goose", max_length=32, description="goose, openai, command or sampling.")
    agent_settings: AgentSettings = Field(default_factory=AgentSettings)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = []
        for tag in tags:
            tag = tag.strip().lower()
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,39}", tag):
                raise ValueError(f"tag {tag!r} must be 1-40 lowercase letters, digits, _ . -")
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned

    def content_hash(self) -> str:
        data = self.model_dump(mode="json", exclude={"name"})
        if data["agent_settings"].get("response_schema") is None:  # added later: unset keeps older hashes
            del data["agent_settings"]["response_schema"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class _Sandbox(SandboxedEnvironment):
    """The stock sandbox, plus a guard against ``'x' * 10**9`` and ``2 ** 10**9``."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 1000:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_RENDERED_CHARS:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@functools.lru_cache(maxsize=512)
def _compiled_cached(source: str) -> Any:
    return _ENV.from_string(source)


def _syntax_error(exc: TemplateSyntaxError, label: str) -> InvalidArguments:
    return InvalidArguments(
        f"The {label} has a Jinja syntax error on line {exc.lineno}: {exc.message}. "
        "Use {{ name }} for parameters and {% if %}/{% for %} blocks as in Goose recipes.",
        errors=[{"field": label, "message": str(exc.message), "type": "template_syntax"}],
    )


def _compiled(source: str, label: str) -> Any:
    """The compiled template (cached per source text)."""
    try:
        return _compiled_cached(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, label) from None


def _parse(source: str, label: str) -> JinjaAst:
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, label) from None


def is_plain(source: str) -> bool:
    """True when ``source`` holds no Jinja syntax at all: it renders to itself."""
    return "{" not in source


def variables_of(source: str, label: str = "prompt") -> set[str]:
    """The undeclared variables a Jinja text uses (its parameters)."""
    return set(meta.find_undeclared_variables(_parse(source, label)))


def check_definition(definition: TemplateDefinition) -> None:
    """Apply Goose recipe rules to a definition.

    Raises:
        InvalidArguments: with every problem found, each naming the parameter and the fix.
    """
    problems: list[dict[str, str]] = []

    def problem(field: str, message: str) -> None:
        problems.append({"field": field, "message": message, "type": "template_rule"})

    used = variables_of(definition.prompt, "prompt")
    if definition.instructions:
        used |= variables_of(definition.instructions, "instructions")
    keys = [p.key for p in definition.parameters]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problem(f"parameters.{key}", "declared more than once")
    for p in definition.parameters:
        where = f"parameters.{p.key}"
        if p.requirement == "optional" and p.default is None:
            problem(where, "optional parameters need a default (Goose recipe rule)")
        if p.requirement != "optional" and p.default is not None:
            problem(where, f"{p.requirement} parameters cannot have a default; make it optional or drop the default")
        if p.input_type == "select" and not p.options:
            problem(where, "select parameters need options")
        if p.default is not None:
            try:
                coerce(p, p.default)
            except InvalidArguments as exc:
                problem(where, f"default does not fit: {exc.message}")
        if p.key not in used:
            problem(where, f"declared but never used; use {{{{ {p.key} }}}} in the prompt or instructions, or drop it")
    for name in sorted(used - set(keys)):
        problem(f"parameters.{name}", f"{{{{ {name} }}}} is used but not declared; add a parameter with key {name!r}")
    schema = definition.agent_settings.response_schema
    if schema is not None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(part) for part in exc.path)
            problem(
                "agent_settings.response_schema",
                f"not a valid JSON Schema ({exc.message}{f' at {where}' if where else ''})",
            )
    if problems:
        fields = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidArguments(f"The template breaks recipe rules: {fields}.", errors=problems)


def coerce(param: Parameter, value: Any) -> Any:
    """Turn a given value (possibly a string from an MCP prompt argument) into the parameter's type."""
    kind = param.input_type

    def bad(expected: str) -> InvalidArguments:
        return InvalidArguments(
            f"Parameter {param.key!r} must be {expected}, not {type(value).__name__} {_preview(value)}.",
            errors=[{"field": param.key, "message": f"expected {expected}", "type": "parameter_type"}],
        )

    if kind in ("string", "date", "select"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad("a string")
        text = str(value)
        if kind == "date":
            try:
                (dt.datetime if "T" in text or " " in text.strip() else dt.date).fromisoformat(text.strip())
            except ValueError:
                raise bad("an ISO date such as 2026-11-25") from None
        if kind == "select" and text not in (param.options or []):
            raise InvalidArguments(
                f"Parameter {param.key!r} must be one of {param.options}, not {_preview(text)}.",
                errors=[{"field": param.key, "message": "not one of the options", "type": "parameter_option"}],
            )
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise bad("a number")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                return int(value) if re.fullmatch(r"\s*-?\d+\s*", value) else float(value)
            except ValueError:
                raise bad("a number") from None
        raise bad("a number")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise bad("true or false")
    expected_type, label = (dict, "an object") if kind == "object" else (list, "an array")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise bad(f"{label} (or its JSON text)") from None
    if not isinstance(value, expected_type):
        raise bad(label)
    return value


def bind_values(parameters: list[Parameter], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check and convert the values for a run; fill defaults.

    Raises:
        InvalidArguments: unknown, missing or mistyped parameters.
    """
    given = dict(given or {})
    known = {p.key: p for p in parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        takes = ", ".join(known) or "no parameters"
        raise InvalidArguments(
            f"Unknown parameter(s) {', '.join(unknown)}; this template takes: {takes}.",
            errors=[{"field": k, "message": "unknown parameter", "type": "parameter_unknown"} for k in unknown],
        )
    values: dict[str, Any] = {}
    missing = []
    for p in parameters:
        if given.get(p.key) is None:
            if p.default is None:
                missing.append(p)
                continue
            values[p.key] = coerce(p, p.default)
            continue
        value = coerce(p, given[p.key])
        if len(json.dumps(value, default=str)) > MAX_PARAM_CHARS:
            raise InvalidArguments(f"Parameter {p.key!r} is larger than {MAX_PARAM_CHARS} characters.")
        values[p.key] = value
    if missing:
        names = "; ".join(f"{p.key} ({p.description or p.input_type})" for p in missing)
        raise InvalidArguments(
            f"Missing required parameter(s): {names}.",
            errors=[{"field": p.key, "message": "required", "type": "parameter_missing"} for p in missing],
        )
    return values


def render(source: str, values: Mapping[str, Any], label: str = "prompt") -> str:
    """Render Jinja text in the sandbox (synchronously; prefer :func:`render_async` in the hub).

    Raises:
        InvalidArguments: undefined variable, forbidden operation, syntax or runtime error, too long.
    """
    compiled = _compiled(source, label)
    try:
        text = str(compiled.render(**values))
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
    if len(text) > MAX_RENDERED_CHARS:
        raise InvalidArguments(f"The rendered {label} is longer than {MAX_RENDERED_CHARS} characters.")
    return text


async def render_async(source: str, values: Mapping[str, Any], label: str = "prompt") -> str:
    """:func:`render` in a worker thread, so a heavy template never stalls the event loop (a text without
    Jinja syntax is its own rendering)."""
    if is_plain(source):  # nothing that could run long: render here, without a worker thread
        return render(source, values, label)
    with anyio.move_on_after(RENDER_TIMEOUT):
        return await anyio.to_thread.run_sync(render, source, dict(values), label, abandon_on_cancel=True)
    raise InvalidArguments(f"Rendering the {label} took longer than {RENDER_TIMEOUT:.0f} s; simplify its loops.")


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
