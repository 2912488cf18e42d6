"""Private files: keys, tokens and logs that may hold secrets are readable by this user only, from
the moment they exist (mode 0600 at creation, not a chmod afterwards)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600


def open_private(path: Path) -> TextIO:
    """``path`` created (or truncated) for writing with mode 0600; its folder is created if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its old mode through O_CREAT: set it
    return os.fdopen(fd, "w")


def copy_private(source: Path, target: Path) -> None:
    """Copy the bytes of ``source`` to ``target`` with mode 0600 (whatever mode ``source`` has)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    os.fchmod(fd, PRIVATE_MODE)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        while chunk := src.read(1 << 20):
            out.write(chunk)


def write_private(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` with mode 0600 (never readable by others, even for a moment)."""
    with open_private(path) as handle:
        handle.write(content)
