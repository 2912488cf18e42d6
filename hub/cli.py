"""The `goosuke` command: serve, stdio, setup, migrate, user, token, team (``accounts_cli.py``), backup, restore,
docs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub._version import __version__
from hub.accounts_cli import add_commands
from hub.db import Database
from hub.errors import GoosukeError
from hub.settings import Settings

REFERENCE = Path("docs/reference/tools.md")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for key in ("host", "port", "data_dir", "database_url"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        fields = "; ".join(f"GOOSUKE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise GoosukeError(f"Invalid settings: {fields}") from None


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, with offset), ``level``, ``logger``, ``message``
    (and ``exception`` when there is one). Handler filters (the vault's scrubber) run before it."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def _logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)  # /readyz asks for the revision on every call


def _uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's own logging: its default (text) config, or, for JSON, its loggers sent to the hub's handler."""
    if settings.log_format != "json":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from hub.app import create_app

    settings = _settings(args)
    _logging(settings)
    settings.check_serving()
    if settings.auth == "none":
        logging.getLogger("goosuke").warning(
            "GOOSUKE_AUTH=none: every local process can call every tool as admin. Use it only for development."
        )
    for warning in settings.exposure_warnings():
        logging.getLogger("goosuke").warning(warning)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=_uvicorn_log_config(settings),
        timeout_graceful_shutdown=3,
        lifespan="on",
    )


def cmd_stdio(args: argparse.Namespace) -> None:
    from hub.app import run_stdio

    settings = _settings(args)
    _logging(settings)
    asyncio.run(run_stdio(settings))


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings(args)

    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            if args.down:
                await db.downgrade(args.down)
            else:
                await db.migrate(args.revision)
            print(f"database at revision {await db.current_revision()} (head {db.head_revision()})")
        finally:
            await db.dispose()

    asyncio.run(run())


def cmd_backup(args: argparse.Namespace) -> None:
    from hub.backup import backup

    settings = _settings(args)
    report = backup(settings, Path(args.dest), force=args.force)
    what = f"{len(report.files)} file(s)" + (" and the SQLite database" if report.database_copied else "")
    print(f"backed up {what} of {settings.data_dir} into {report.folder} (mode 0600)")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> None:
    from hub.backup import restore

    settings = _settings(args)
    report = restore(settings, Path(args.src), force=args.force)
    what = f"{len(report.files)} file(s)" + (f" and the SQLite database ({report.database})" if report.database else "")
    print(f"restored {what} into {report.folder}; start the hub to use them")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)


def cmd_docs(args: argparse.Namespace) -> None:
    from hub.reference import render_settings, render_tools
    from hub.registry import Registry

    target = Path(args.output)
    pages = {target: render_tools(Registry.discover()), target.with_name("settings.md"): render_settings()}
    for path, text in pages.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                raise GoosukeError(f"{path} is stale: run `goosuke docs` and commit the result.")
            print(f"{path} is up to date")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")


BUILTIN_COMMANDS = frozenset({"serve", "stdio", "migrate", "user", "token", "team", "backup", "restore", "docs"})


def parser(plugin_commands: bool = True) -> argparse.ArgumentParser:
    """The CLI; ``plugin_commands=False`` leaves out the plugins' subcommands (no registry to load)."""
    p = argparse.ArgumentParser(prog="goosuke", description="Goosuke: an MCP-native automation hub.")
    p.add_argument("--version", action="version", version=f"goosuke {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        # SUPPRESS: a flag given to `goosuke token --data-dir D create` is not reset by the leaf parser
        sp.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS, help="overrides GOOSUKE_DATA_DIR")
        sp.add_argument(
            "--database-url", dest="database_url", default=argparse.SUPPRESS, help="overrides GOOSUKE_DATABASE_URL"
        )

    serve = sub.add_parser("serve", help="serve MCP (Streamable HTTP, SSE) and the HTTP facade")
    serve.add_argument("--host", help="default 127.0.0.1 (GOOSUKE_HOST)")
    serve.add_argument("--port", type=int, help="default 8765 (GOOSUKE_PORT)")
    common(serve)
    serve.set_defaults(fn=cmd_serve)

    stdio = sub.add_parser("stdio", help="serve MCP over stdin/stdout (for Goose, Claude Desktop)")
    common(stdio)
    stdio.set_defaults(fn=cmd_stdio)

    from hub.registry import Registry

    for command in (
        Registry.discover().commands.values() if plugin_commands else ()
    ):  # the plugins' own subcommands (goosuke setup)
        declared = sub.add_parser(command.name, help=command.help)
        command.configure(declared)
        common(declared)
        declared.set_defaults(fn=lambda args, run=command.run: run(args, _settings(args)))

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="heads")
    migrate.add_argument("--down", help="downgrade to this revision instead (e.g. base)")
    common(migrate)
    migrate.set_defaults(fn=cmd_migrate)

    add_commands(sub, common, _settings)  # user, token, team (hub/accounts_cli.py)

    backup = sub.add_parser("backup", help="copy the data folder (keys, SQLite database online) into a new folder")
    backup.add_argument("dest", help="the backup folder (new or empty)")
    backup.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    common(backup)
    backup.set_defaults(fn=cmd_backup)

    restore = sub.add_parser("restore", help="put a backup back into the data folder (the hub must be stopped)")
    restore.add_argument("src", help="a folder written by `goosuke backup`")
    restore.add_argument("--force", action="store_true", help="overwrite a data folder that is not empty")
    common(restore)
    restore.set_defaults(fn=cmd_restore)

    docs = sub.add_parser("docs", help="generate docs/reference/tools.md from the registry")
    docs.add_argument("--output", default=str(REFERENCE))
    docs.add_argument("--check", action="store_true", help="fail when the file is stale")
    docs.set_defaults(fn=cmd_docs)
    return p


def main(argv: list[str] | None = None) -> None:
    given = sys.argv[1:] if argv is None else argv
    args = parser(plugin_commands=not given or given[0] not in BUILTIN_COMMANDS).parse_args(given)
    try:
        args.fn(args)
    except GoosukeError as exc:
        print(f"goosuke: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the top boundary: a clear line, no traceback (GOOSUKE_LOG_LEVEL=DEBUG shows it)
        logging.getLogger("goosuke").debug("goosuke failed", exc_info=True)
        print(f"goosuke: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
