"""A trivial typed tool for benchmarks: the hub's cost is everything but the echo."""

from __future__ import annotations

from pydantic import BaseModel

from hub import Arguments, Call, Plugin

plugin = Plugin("bench-echo")


class EchoIn(Arguments):
    text: str


class EchoOut(BaseModel):
    text: str


@plugin.tool()
async def echo(call: Call, args: EchoIn) -> EchoOut:
    """Return the text unchanged (benchmark tool)."""
    return EchoOut(text=args.text)
