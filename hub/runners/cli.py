"""``goosuke setup``: the runners' CLI command, declared through the plugin door (``plugin.py``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.db import Database
from hub.runners import setup
from hub.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", choices=["openai", "ollama", "vllm", "compatible", "goose"])
    parser.add_argument("--base-url", help="the OpenAI-compatible URL, ending in /v1 (default: the provider's)")
    parser.add_argument("--model", help="default: gpt-4o-mini (openai), llama3.2 (ollama)")
    parser.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    parser.add_argument("--goose-provider", choices=["openai", "ollama"], help="with --provider goose (default openai)")
    parser.add_argument("--name", default="default", help="the runner's name (default: default)")
    parser.add_argument("--yes", action="store_true", help="replace a runner of that name without asking")


def run_setup(args: argparse.Namespace, settings: Settings) -> None:
    """Ask (or read the flags), check the provider with one request, then save the default runner."""
    ask, secret = setup.prompter(sys.stdin, sys.stdout)
    if args.provider is None:
        choice = setup.interview(ask, secret, args.name)
    else:
        key = sys.stdin.readline().strip() if args.api_key_stdin else None
        if key is None and settings.setup_api_key is not None:
            key = settings.setup_api_key.get_secret_value()
        choice = setup.from_flags(args.provider, args.base_url, args.model, key, args.name, args.goose_provider)

    async def run(db: Database) -> None:
        if await setup.exists(db, choice.name) and not args.yes:
            if args.provider is not None:
                raise setup.SetupUsageError(f"A runner named {choice.name!r} exists; pass --yes to replace it.")
            if ask(f"Runner {choice.name!r} exists; replace it? (y/n)", "n").lower() not in ("y", "yes"):
                print("nothing changed")
                return
        await setup.check_owner(db, choice)  # before the request: another team's runner or secret is refused
        try:
            if choice.provider == "goose":  # the binary the hub runs, before the provider is asked
                print(f"checking Goose ({settings.goose_bin})...")
                print(f"found Goose {await setup.check_goose(settings)}")
            print(f"checking {choice.model} at {choice.base_url} with one request...")
            answer = await setup.check(choice)
        except setup.SetupCheckFailed as exc:
            print(f"goosuke: the check failed, nothing was saved. {exc.message}", file=sys.stderr)
            sys.exit(1)
        print(f"the model answered: {answer[:60]!r}")
        for line in await setup.save(db, settings, choice):
            print(line)
        print(
            "next: start the hub (`goosuke serve`) and run a built-in template, e.g. "
            "`meeting-summary`, or bind the ✏️ reaction in Discord (docs/discord.md)"
        )

    async def main() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            await run(db)
        finally:
            await db.dispose()

    asyncio.run(main())
