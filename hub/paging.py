"""Shared bounds of list tools' paging arguments (a database integer cannot hold an unbounded offset)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_OFFSET = 1_000_000_000

Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description=f"Items to skip (at most {MAX_OFFSET:,}).")]
"""A list tool's ``offset``: ``offset: Offset = 0``."""
