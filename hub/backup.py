"""`goosuke backup DEST` and `goosuke restore SRC`: the whole data folder, consistent while the hub runs.

A backup is a folder: every file of the data folder (the vault's ``vault.key``, ``jwt.key``,
``admin.token``, extension logs, whatever a domain keeps there; the kernel does not need to know
their names), the SQLite database copied through SQLite's online backup API as ``goosuke.db`` (a
consistent copy while the hub keeps writing), and ``manifest.json`` (what was copied, with sizes
and SHA-256 digests). Every copied file is written with mode 0600 (keys and tokens are secrets,
logs may hold some), every folder 0700. On PostgreSQL the database is not in the backup:
``pg_dump`` is the tool for it.

A running hub holds a shared lock on ``DATA_DIR/goosuke.lock`` (:func:`hold_data_folder`);
``restore`` takes it exclusively, so it refuses to write under a running hub.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from hub._version import __version__
from hub.errors import ConfigError
from hub.files import PRIVATE_MODE, copy_private
from hub.settings import Settings

LOCK_FILE = "goosuke.lock"
MANIFEST = "manifest.json"
DATABASE_COPY = "goosuke.db"
FORMAT = 1
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
PRIVATE_DIR_MODE = 0o700


@contextmanager
def hold_data_folder(data_dir: Path) -> Iterator[None]:
    """Mark ``data_dir`` as in use by a running hub (a shared lock: several may share it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"A hub is running on {data_dir}: stop it (every `goosuke serve` and `goosuke stdio` using this "
                "data folder) before restoring into it."
            ) from None
        yield
    finally:
        os.close(fd)


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file, or None on PostgreSQL (or an in-memory database)."""
    if settings.database_kind != "sqlite":
        return None
    database = make_url(settings.resolved_database_url).database
    return Path(database) if database and database != ":memory:" else None


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _is_database_file(relative: Path, database: Path | None, data_dir: Path) -> bool:
    """The database and its side files: copied through SQLite, never as plain files."""
    names = {DATABASE_COPY}
    if database is not None and database.parent.resolve() == data_dir.resolve():
        names.add(database.name)
    return len(relative.parts) == 1 and any(
        relative.name == name + suffix for name in names for suffix in ("", *SQLITE_SIDE_FILES)
    )


def _data_files(data_dir: Path, database: Path | None) -> list[Path]:
    """Every regular file under ``data_dir`` but the lock and the database, as relative paths."""
    found: list[Path] = []
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if path.is_symlink() or not path.is_file() or relative == Path(LOCK_FILE):
            continue
        if _is_database_file(relative, database, data_dir):
            continue
        found.append(relative)
    return found


def _empty_or_missing(folder: Path, *, ignore: tuple[str, ...] = ()) -> bool:
    return not folder.exists() or not any(p.name not in ignore for p in folder.iterdir())


def _mkdir_private(folder: Path) -> None:
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


@dataclass
class BackupReport:
    folder: Path
    files: list[str] = field(default_factory=list)
    database: str = "sqlite"
    database_copied: bool = False
    notes: list[str] = field(default_factory=list)


def backup(settings: Settings, dest: Path, *, force: bool = False) -> BackupReport:
    """Copy the data folder (and the SQLite database, online) into the folder ``dest``.

    Raises:
        ConfigError: ``dest`` is not empty (without ``force``), lies inside the data folder, or the
            data folder does not exist.
    """
    data_dir = settings.data_dir
    if not data_dir.is_dir():
        raise ConfigError(f"The data folder {data_dir} does not exist: nothing to back up (check GOOSUKE_DATA_DIR).")
    dest = dest.absolute()
    if dest.resolve().is_relative_to(data_dir.resolve()):
        raise ConfigError(f"The backup folder {dest} is inside the data folder {data_dir}: choose a folder outside it.")
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest} is a file: a backup is a folder. Choose a new folder.")
    if not force and not _empty_or_missing(dest):
        raise ConfigError(f"{dest} is not empty: choose a new folder, or pass --force to overwrite the backup there.")
    _mkdir_private(dest)
    database = sqlite_path(settings)
    report = BackupReport(folder=dest, database=settings.database_kind)
    entries: list[dict[str, Any]] = []
    for relative in _data_files(data_dir, database):
        target = dest / relative
        _mkdir_private(target.parent)
        copy_private(data_dir / relative, target)
        entries.append({"path": relative.as_posix(), "size": target.stat().st_size, "sha256": _digest(target)})
        report.files.append(relative.as_posix())
    if database is not None:
        if not database.exists():
            raise ConfigError(f"The SQLite database {database} does not exist: start the hub once, or check the URL.")
        target = dest / DATABASE_COPY
        target.unlink(missing_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE))
        # SQLite's online backup: a consistent snapshot while the hub keeps writing (WAL included)
        with closing(sqlite3.connect(database, timeout=30)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        os.chmod(target, PRIVATE_MODE)
        report.database_copied = True
    else:
        report.notes.append(
            "The PostgreSQL database is not in this backup: back it up with pg_dump "
            '(pg_dump -Fc -f goosuke.dump "postgresql://USER@HOST:5432/DB"; see docs/operations.md).'
        )
    if settings.vault_key is not None:
        report.notes.append(
            "GOOSUKE_VAULT_KEY is set: the vault's keys are that value, not in this backup; keep it too."
        )
    if settings.jwt_secret is not None:
        report.notes.append("GOOSUKE_JWT_SECRET is set: the signing key is that value, not in this backup.")
    manifest = {
        "format": FORMAT,
        "goosuke": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "data_dir": str(data_dir),
        "database": settings.database_kind,
        "database_file": DATABASE_COPY if report.database_copied else None,
        "files": entries,
    }
    manifest_path = dest / MANIFEST
    manifest_path.unlink(missing_ok=True)
    fd = os.open(manifest_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(fd, "w") as handle:
        json.dump(manifest, handle, indent=2)
    return report


def _read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{src} is not a Goosuke backup (no {MANIFEST}): give the folder `goosuke backup` wrote."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{src / MANIFEST} cannot be read ({type(exc).__name__}): the backup is damaged.") from None
    if manifest.get("format") != FORMAT:
        raise ConfigError(
            f"{src} is a backup of format {manifest.get('format')!r}; this goosuke reads format {FORMAT}."
        )
    return manifest


def _check(src: Path, manifest: dict[str, Any]) -> None:
    """Every listed file is there, unchanged; the database copy is sound."""
    for entry in manifest["files"]:
        path = src / entry["path"]
        if ".." in Path(entry["path"]).parts or Path(entry["path"]).is_absolute():
            raise ConfigError(f"The backup lists {entry['path']!r}, outside its folder: it is damaged or forged.")
        if not path.is_file() or _digest(path) != entry["sha256"]:
            raise ConfigError(f"{path} is missing or changed since the backup: nothing was restored.")
    if manifest.get("database_file"):
        copy = src / manifest["database_file"]
        if not copy.is_file():
            raise ConfigError(f"{copy} is missing: nothing was restored.")
        with closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as db:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise ConfigError(f"{copy} fails SQLite's integrity check ({result}): nothing was restored.")


@dataclass
class RestoreReport:
    folder: Path
    files: list[str] = field(default_factory=list)
    database: Path | None = None
    notes: list[str] = field(default_factory=list)


def restore(settings: Settings, src: Path, *, force: bool = False) -> RestoreReport:
    """Put the backup in ``src`` back into the data folder (and the SQLite database where it belongs).

    Raises:
        ConfigError: ``src`` is not a sound backup, a hub is running on the data folder, or the
            folder (or the database file) is not empty and ``force`` is not given.
    """
    src = src.absolute()
    manifest = _read_manifest(src)
    _check(src, manifest)
    data_dir = settings.data_dir
    database = sqlite_path(settings)
    backed_up_db = bool(manifest.get("database_file"))
    if backed_up_db and database is None:
        raise ConfigError(
            "This backup holds a SQLite database but the hub is configured for PostgreSQL "
            "(GOOSUKE_DATABASE_URL): unset it to restore into SQLite."
        )
    _mkdir_private(data_dir)
    report = RestoreReport(folder=data_dir)
    with _exclusive(data_dir):
        occupied = not _empty_or_missing(data_dir, ignore=(LOCK_FILE,))
        if backed_up_db and database is not None and database.exists():
            occupied = True
        if occupied and not force:
            raise ConfigError(
                f"{data_dir} (or its database) is not empty: restoring would replace what is there. Restore into "
                "an empty data folder, or pass --force to overwrite it."
            )
        if backed_up_db and database is not None:
            for suffix in SQLITE_SIDE_FILES:  # a stale WAL would be replayed over the restored copy
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            _mkdir_private(database.parent)
            database.unlink(missing_ok=True)
            copy_private(src / manifest["database_file"], database)
            report.database = database
        for entry in manifest["files"]:
            target = data_dir / entry["path"]
            _mkdir_private(target.parent)
            copy_private(src / entry["path"], target)
            report.files.append(entry["path"])
    if manifest.get("database") == "postgresql":
        report.notes.append(
            "This backup has no database (it was taken on PostgreSQL): restore the database with pg_restore "
            "(see docs/operations.md) and point GOOSUKE_DATABASE_URL at it."
        )
    return report
