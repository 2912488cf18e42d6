"""Hypothesis strategies for a tool's arguments, drawn from its JSON Schema: values that fit it, and values
that do not (wrong types, extra fields, huge integers, deep nesting, long and unusual strings).

``from_schema`` covers the JSON Schema that pydantic writes for the tools' input models ($ref/$defs,
anyOf/oneOf, enum, const, string lengths and patterns, number bounds, arrays, objects); hypothesis-jsonschema
would be the general tool but does not work with the Hypothesis this project pins."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

# The MCP SDK parses JSON with a nesting limit of about 200 and serialises it with a similar one, so
# deeper values never reach a tool over MCP (the HTTP facade's raw bodies are fuzzed by schemathesis).
DEPTH = 180
HUGE_INTEGERS = (2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30))
UNUSUAL_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e\u200b\ufeff",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🦆",
    "../../../etc/passwd",
    "{{ 7 * 7 }}{% for x in range(10**9) %}{% endfor %}",
    "' OR 1=1 --",
    "*/5 * * * *",
    "0 0 31 2 *",
    "[" * 50_000 + "]" * 50_000,  # deeply nested JSON, YAML or Jinja once parsed
    "{" * 20_000,
    "{{" + "(" * 5_000 + "1" + ")" * 5_000 + "}}",
    "x" * 70_000,
    "é" * 20_000,
)

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)  # JSON cannot carry lone surrogates
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def _nested(as_dict: bool) -> Any:
    value: Any = "bottom"
    for _ in range(DEPTH):
        value = {"k": value} if as_dict else [value]
    return value


hostile_values = st.one_of(
    json_values,
    st.sampled_from(HUGE_INTEGERS),
    st.sampled_from(UNUSUAL_STRINGS),
    st.builds(_nested, st.booleans()),
    st.lists(st.integers(), min_size=500, max_size=2000),
)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat())
    low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
    if "pattern" in schema:
        try:
            return st.from_regex(re.compile(schema["pattern"]), fullmatch=True).filter(lambda s: low <= len(s) <= high)
        except re.error:
            pass
    return st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=low, max_size=min(high, low + 60))


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if integer:
        return st.integers(min_value=None if low is None else int(low), max_value=None if high is None else int(high))
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def _object(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {key: from_schema(value, defs) for key, value in properties.items() if key in required}
    optional = {key: from_schema(value, defs) for key, value in properties.items() if key not in required}
    extra = schema.get("additionalProperties")
    if not properties and extra not in (None, False):
        values = json_values if extra is True else from_schema(extra, defs)
        return st.dictionaries(text, values, max_size=4)
    return st.fixed_dictionaries(fixed, optional=optional)


def from_schema(schema: Any, defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that fit ``schema`` (mostly: string lengths under a pattern are filtered, not constructed)."""
    if not isinstance(schema, dict):
        return json_values
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(branch, defs) for branch in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}, defs) for one in kind])
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs) if schema.get("items") else json_values
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, min(schema.get("maxItems", 4), low + 4)))
    if kind == "object" or "properties" in schema:
        return _object(schema, defs)
    return json_values


def _with(arguments: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**arguments, key: value}


def tool_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for a tool with this input schema: about half fit it, the rest break it one way or another."""
    valid = _object(schema, schema.get("$defs", {}))
    fields = sorted(schema.get("properties", {}))
    keys = st.sampled_from(fields) if fields else text
    one_field_wrong = st.builds(_with, valid, keys, hostile_values)
    an_extra_field = st.builds(_with, valid, st.sampled_from(("__proto__", "extra", "x" * 300)) | text, hostile_values)
    only_hostile = st.dictionaries(keys, hostile_values, max_size=max(1, len(fields)))
    return st.one_of(valid, valid, one_field_wrong, an_extra_field, only_hostile)


# The values most likely to break a parser, a renderer or a database column, tried on every field that
# takes their type (on top of the simplest valid arguments), so that finding them is not left to chance.
STRING_EDGES = {
    "brackets nested 50,000 deep": "[" * 50_000 + "]" * 50_000,
    "a Jinja expression nested 5,000 deep": "{{" + "(" * 5_000 + "1" + ")" * 5_000 + "}}",
    "NUL and bidi controls": "a\x00b\u202e\ufeff",
}
INTEGER_EDGES = {"2**63": 2**63, "-(2**63) - 1": -(2**63) - 1}
NESTED_EDGES = {f"a list nested {DEPTH} deep": _nested(False)}


def _kinds(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _kinds(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    kinds = {kind for key in ("anyOf", "oneOf") for branch in schema.get(key, ()) for kind in _kinds(branch, defs)}
    kind = schema.get("type")
    kinds.update(kind if isinstance(kind, list) else [kind] if kind else [])
    if not kinds and "const" not in schema and "enum" not in schema:
        kinds.add("any")
    return kinds


def _simplest_string(schema: dict[str, Any]) -> str:
    low = max(schema.get("minLength", 0), 1 if "pattern" in schema else 0)
    for letter in "a0A_":
        candidate = letter * low
        if "pattern" not in schema or re.fullmatch(schema["pattern"], candidate):
            return candidate
    raise ValueError(f"no simple string fits {schema}: add a candidate to _simplest_string")


def simplest(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The simplest value that fits ``schema`` (deterministic; only the required fields of an object)."""
    if "$ref" in schema:
        return simplest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = schema[key]
            nullable = [branch for branch in branches if branch.get("type") == "null"]
            return None if nullable else simplest(branches[0], defs)
    kind = schema.get("type")
    if kind == "string":
        return "2026-01-01T00:00:00+00:00" if schema.get("format") == "date-time" else _simplest_string(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        return max(low, 0) if "maximum" not in schema else min(max(low, 0), schema["maximum"])
    if kind == "boolean":
        return False
    if kind == "array":
        return [simplest(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind == "object" or "properties" in schema:
        required = schema.get("required", ())
        return {key: simplest(value, defs) for key, value in schema.get("properties", {}).items() if key in required}
    return None


def simplest_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    value = simplest(schema, schema.get("$defs", {}))
    assert isinstance(value, dict)
    return value


def edge_cases(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(description, arguments): the simplest arguments with one field set to one edge value of its type."""
    base = simplest_arguments(schema)
    defs = schema.get("$defs", {})
    cases = []
    for field, field_schema in sorted(schema.get("properties", {}).items()):
        kinds = _kinds(field_schema, defs)
        edges: dict[str, Any] = {}
        if kinds & {"string", "any"}:
            edges.update(STRING_EDGES)
        if kinds & {"integer", "any"}:
            edges.update(INTEGER_EDGES)
        if kinds & {"array", "object", "any"}:
            edges.update(NESTED_EDGES)
        cases.extend((f"{field} = {label}", {**base, field: value}) for label, value in edges.items())
    return cases
