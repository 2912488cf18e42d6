"""A template's response schema: the agent's final answer, parsed as JSON and checked against it."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from hub.errors import AgentRunError

FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)
MAX_PROBLEMS = 3


def conform(schema: dict[str, Any], output: str | None, structured: dict[str, Any] | None) -> Any:
    """The answer as JSON that matches ``schema``: the agent's structured output when it gave one, else its
    output text parsed as JSON (a Markdown code fence around it is allowed).

    Raises:
        AgentRunError: the answer is not JSON, or does not match; the message names what is wrong.
    """
    if structured is not None:
        answer: Any = structured
    else:
        text = (output or "").strip()
        fenced = FENCE.match(text)
        if fenced:
            text = fenced.group("body")
        try:
            answer = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AgentRunError(
                f"The template asks for an answer matching its response schema, but the agent's answer is not "
                f"JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). Tell the agent to answer with JSON "
                "only, e.g. in the instructions."
            ) from None
    problems = sorted(Draft202012Validator(schema).iter_errors(answer), key=lambda e: list(e.absolute_path))
    if problems:
        described = "; ".join(f"{e.json_path}: {e.message}" for e in problems[:MAX_PROBLEMS])
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise AgentRunError(f"The agent's answer does not match the template's response schema: {described}{more}.")
    return answer
