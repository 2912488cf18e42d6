"""Bounded JSON parsing for request bodies: malformed or too deeply nested input is a 400 naming the body."""

from __future__ import annotations

import json
from typing import Any

from hub.errors import BadRequest

MAX_DEPTH = 64  # arrays and objects inside each other; tool arguments need a handful


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH, field: str = "(body)") -> Any:
    """Parse ``raw`` as JSON, refusing nesting deeper than ``max_depth``.

    Raises:
        BadRequest: the text is not JSON, or it nests arrays/objects deeper than ``max_depth``.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _too_deep(max_depth, field) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"The request body is not valid JSON ({exc}). Send a JSON object with Content-Type: application/json.",
            errors=[{"field": field, "message": "malformed JSON", "type": "json_invalid"}],
        ) from None
    if depth_exceeds(value, max_depth):
        raise _too_deep(max_depth, field)
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests lists/dicts deeper than ``max_depth`` (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep(max_depth: int, field: str) -> BadRequest:
    return BadRequest(
        f"The request body nests arrays or objects deeper than {max_depth} levels. Send flatter JSON.",
        errors=[{"field": field, "message": f"nesting deeper than {max_depth}", "type": "json_too_deep"}],
    )
