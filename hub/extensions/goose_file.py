"""Goose's ``config.yaml`` as a file: round-trip load and dump (comments, order and unknown keys kept),
atomic writes with a backup, and the extension entries in it. The sync logic is in :mod:`hub.extensions.goose_sync`."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from hub.errors import GoosukeError, ToolError
from hub.extensions.schema import MODELS, config_hash, name_to_key, parse_config


def new_yaml() -> YAML:
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def file_hash(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()


def load(path: Path) -> tuple[CommentedMap, str]:
    """The parsed file (an empty map when it does not exist) and its text.

    Raises:
        ToolError: not valid YAML, or not a mapping, or ``extensions`` is not a mapping. The message gives
            the place, never the file's content.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return CommentedMap(), ""
    except OSError as exc:
        raise ToolError(f"Cannot read {path}: {exc.strerror}. Check GOOSUKE_GOOSE_CONFIG_PATH.") from None
    try:
        doc = new_yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ToolError(
            f"{path} is not valid YAML{where} ({problem}). Fix it by hand or restore {path.name}.bak; "
            "nothing was written."
        ) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ToolError(f"{path} must hold a YAML mapping at the top; nothing was written.")
    extensions = doc.get("extensions")
    if extensions is not None and not isinstance(extensions, CommentedMap):
        raise ToolError(f"`extensions:` in {path} must be a mapping of key -> extension; nothing was written.")
    return doc, text


def dump(doc: CommentedMap) -> str:
    buffer = io.StringIO()
    new_yaml().dump(doc, buffer)
    return buffer.getvalue()


def write_atomic(path: Path, text: str, *, backup: bool = True, mode: int | None = None) -> Path | None:
    """Write ``text`` to ``path`` through a temporary file renamed over it; keep the old file as ``.bak``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup_path = None
    if path.exists():
        mode = path.stat().st_mode & 0o777 if mode is None else mode
        if backup:
            backup_path = path.with_name(path.name + ".bak")
            shutil.copy2(path, backup_path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode if mode is not None else 0o644)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode if mode is not None else 0o644)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()
    return backup_path


def set_entry(extensions: CommentedMap, key: str, entry: dict[str, Any]) -> None:
    """Put Goose's entry under ``key``, editing an existing one in place (its comments, order and unknown
    keys stay)."""
    current = extensions.get(key)
    if not isinstance(current, CommentedMap):
        fresh = CommentedMap()
        for name, value in entry.items():
            fresh[name] = value
        extensions[key] = fresh
        return
    schema = set(MODELS[entry["type"]].model_fields) | {"enabled", "env"}
    for name, value in entry.items():
        if current.get(name) != value:
            current[name] = value
    for name in list(current):
        if name in schema and name not in entry and current[name] not in (None, [], {}):
            del current[name]
    if "env" in current and "envs" in entry:
        del current["env"]


@dataclass
class FileEntry:
    key: str
    config: Any | None
    enabled: bool
    error: str | None = None

    @property
    def hash(self) -> str | None:
        return config_hash(self.config, self.enabled) if self.config is not None else None


def file_entries(doc: CommentedMap) -> dict[str, FileEntry]:
    """Goose's reading of ``extensions:``: a missing ``name`` is the key; malformed entries are kept aside."""
    out: dict[str, FileEntry] = {}
    for key, raw in (doc.get("extensions") or {}).items():
        key = str(key)
        if not isinstance(raw, dict):
            out[key] = FileEntry(key, None, False, "the entry is not a mapping")
            continue
        data = {k: v for k, v in raw.items() if k != "enabled"}
        data.setdefault("name", key)
        try:
            config = parse_config(_plain(data), label=f"Goose entry {key!r}", lenient=True)
        except GoosukeError as exc:
            out[key] = FileEntry(key, None, False, exc.message)
            continue
        if name_to_key(config.name) != key:
            error = f"its key is not name_to_key({config.name!r}) = {name_to_key(config.name)!r}"
            out[key] = FileEntry(key, None, False, error)
            continue
        out[key] = FileEntry(key, config, bool(raw.get("enabled", False)))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
