"""Task template definitions and their rendering in jinja2's sandbox.

A template is a prompt (plus optional instructions) written in Jinja syntax with typed parameters,
following Goose recipe semantics: optional parameters need a default, required ones cannot have
one, ``select`` needs options, and every parameter must be used (and every variable declared).
Rendering (``rendering.py``, re-exported here) runs in a bounded Jinja sandbox with ``StrictUndefined``:
an undefined variable, an attribute the sandbox forbids (``''.__class__``), a runaway loop or a gigabyte
string becomes an :class:`~hub.errors.InvalidArguments` that says what to fix, never a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.deliveries.routes import AnnounceFailuresTo, DeliverTo
from hub.errors import InvalidArguments
from hub.templates.rendering import (  # noqa: F401 - the rendering API, re-exported
    MAX_RENDERED_CHARS,
    RENDER_TIMEOUT,
    is_plain,
    render,
    render_async,
    variables_of,
)

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_SOURCE_CHARS = 200_000  # prompt or instructions as written
MAX_PARAM_CHARS = 1_000_000  # one parameter value, as JSON

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
    """The knobs of a run an operator may set. Unset fields fall back to the runner, then the hub's settings.

    What reaches the host or the network (a command's argv, a base URL, an API key's secret, Goose's
    provider, plugin options) is the runner's (``hub/runners/``), never the template's."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, max_length=200, description="Model name, one of the runner's models (default: its first)."
    )
    max_turns: int | None = Field(default=None, ge=1, le=1000, description="Goose turn limit.")
    timeout: float | None = Field(
        default=None, gt=0, le=86_400, description="Seconds before the run is killed (timed_out); the runner caps it."
    )
    concurrency: int | None = Field(default=None, ge=1, le=1000, description="Runs of this template at once.")
    retries: int = Field(default=0, ge=0, le=10, description="Automatic retries after failure or interruption.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, description="Largest answer, in tokens.")
    response_schema: dict[str, Any] | None = Field(
        default=None,
        description=(
            "JSON Schema the final answer must match (a Goose recipe's response.json_schema): the answer is "
            "parsed as JSON and becomes structured_output; a run whose answer does not match fails."
        ),
    )


HOST_FIELDS = ("argv", "base_url", "api_key_secret", "provider", "options")  # a runner's, never a template's


class InlineSettings(AgentSettings):
    """:class:`AgentSettings` plus a runner's host fields, accepted from admins only: the tools store them
    as a runner (named after the template) and the template names it."""

    provider: str | None = Field(default=None, max_length=64, description="Admins only (a runner's): Goose provider.")
    argv: list[str] | None = Field(default=None, description="Admins only (a runner's): command agent program, argv.")
    base_url: str | None = Field(default=None, max_length=500, description="Admins only (a runner's): openai URL.")
    api_key_secret: str | None = Field(
        default=None, max_length=128, description="Admins only (a runner's): secret holding the openai API key."
    )
    options: dict[str, Any] | None = Field(default=None, description="Admins only (a runner's): plugin settings.")

    def host(self) -> dict[str, Any]:
        """The host fields that were given (None and empty left out)."""
        return {k: v for k in HOST_FIELDS if (v := getattr(self, k)) not in (None, {}, [])}

    def knobs(self) -> AgentSettings:
        return AgentSettings.model_validate(self.model_dump(exclude=set(HOST_FIELDS)))


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
    agent: str | None = Field(
        default=None,
        max_length=32,
        description="goose, openai, command or sampling; none: the agent of its runner (the default runner when "
        "it names none either).",
    )
    runner: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="The admin-defined runner (runner_list) it runs on; none: the built-in one named like its agent, "
        "or the default runner (runner_list shows it) when the agent is unset too.",
    )
    agent_settings: AgentSettings = Field(default_factory=AgentSettings)
    tags: list[str] = Field(default_factory=list, max_length=20)
    deliver_to: DeliverTo = None  # where results go (hub/deliveries/); a run's or trigger's own routes replace these
    announce_failures_to: AnnounceFailuresTo = None

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
        if data.get("runner") is None:
            del data["runner"]
        for key in ("deliver_to", "announce_failures_to"):  # added later: unset keeps older hashes
            if data.get(key) is None:
                del data[key]
        # the host fields moved to runners: hashed as their old empty values, so older hashes hold
        data["agent_settings"].update(provider=None, argv=None, base_url=None, api_key_secret=None, options={})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


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


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
