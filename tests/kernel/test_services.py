"""The service door: services start in the order of their needs, stop in reverse, are found by type,
and every wiring mistake fails at start-up with a message that names the plugins and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hub import AppContext, ConfigError, Plugin
from hub.app import build_context, running
from hub.engine import Engine
from hub.errors import ServiceUnavailable
from hub.federation.service import Federation
from hub.protocols import CapabilitySource, Readiness
from hub.registry import Registry
from hub.services import service_order
from hub.settings import Settings
from hub.vault.service import Vault

pytestmark = pytest.mark.anyio


class Clock:
    pass


class Calendar:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


class Reminders:
    pass


def _registry(*plugins: Plugin) -> Registry:
    registry = Registry()
    for plugin in plugins:
        registry.add(plugin)
    return registry


async def test_services_start_in_the_order_of_their_needs_and_stop_in_reverse(settings: Settings) -> None:
    events: list[str] = []
    plugin = Plugin("calendar")  # declared before what it needs: the order comes from the needs

    @plugin.service(Calendar, needs=[Clock])
    @asynccontextmanager
    async def calendar(app: AppContext) -> AsyncIterator[Calendar]:
        events.append("calendar up")
        yield Calendar(app.services.get(Clock))
        events.append("calendar down")

    clocks = Plugin("clock")

    @clocks.service(Clock)
    @asynccontextmanager
    async def clock(app: AppContext) -> AsyncIterator[Clock]:
        events.append("clock up")
        yield Clock()
        events.append("clock down")

    app = build_context(settings, transport="stdio", registry=_registry(plugin, clocks))
    async with running(app):
        found = app.services.get(Calendar)
        assert isinstance(found, Calendar)
        assert found.clock is app.services.get(Clock)
        assert Reminders not in app.services
        assert app.services.find(Reminders) is None
    assert events == ["clock up", "calendar up", "calendar down", "clock down"]
    with pytest.raises(ServiceUnavailable, match="The Calendar service is not running"):
        app.services.get(Calendar)


def test_an_unmet_need_names_the_plugin_the_service_and_what_is_missing() -> None:
    plugin = Plugin("calendar")

    @plugin.service(Calendar, needs=[Clock])
    def calendar(app: AppContext) -> Calendar:
        return Calendar(app.services.get(Clock))

    with pytest.raises(ConfigError) as caught:
        service_order(_registry(plugin).services)
    message = caught.value.message
    assert "Calendar (plugin 'calendar') needs Clock, which no loaded plugin declares" in message
    assert "@plugin.service(Clock)" in message


async def test_an_unmet_need_stops_the_hub_from_starting(settings: Settings) -> None:
    plugin = Plugin("calendar")

    @plugin.service(Calendar, needs=[Clock])
    def calendar(app: AppContext) -> Calendar:
        return Calendar(Clock())

    app = build_context(settings, transport="stdio", registry=_registry(plugin))
    with pytest.raises(ConfigError, match="needs Clock"):
        async with running(app):
            pass


def test_two_plugins_declaring_one_service_are_both_named() -> None:
    first, second = Plugin("clock-a"), Plugin("clock-b")
    for plugin in (first, second):
        plugin.service(Clock)(lambda app: Clock())
    registry = Registry()
    registry.add(first)
    with pytest.raises(ConfigError, match="Service Clock is declared by both plugin 'clock-a' and plugin 'clock-b'"):
        registry.add(second)


def test_a_circle_of_needs_is_refused_with_the_whole_circle() -> None:
    plugin = Plugin("loop")
    plugin.service(Clock, needs=[Calendar])(lambda app: Clock())
    plugin.service(Calendar, needs=[Reminders])(lambda app: Calendar(Clock()))
    plugin.service(Reminders, needs=[Clock])(lambda app: Reminders())
    with pytest.raises(ConfigError, match="in a circle") as caught:
        service_order(plugin.services)
    assert "Clock (plugin 'loop') → Calendar (plugin 'loop') → Reminders (plugin 'loop') → Clock" in (
        caught.value.message
    )


def test_a_service_must_be_declared_with_a_class() -> None:
    with pytest.raises(ConfigError, match="must be a class"):
        Plugin("p").service("engine")  # type: ignore[arg-type]


def test_the_builtin_services_start_vault_first_and_chat_last() -> None:
    order = [spec.kind.__name__ for spec in service_order(Registry.discover().services)]
    assert order[0] == "Vault"
    assert order.index("ExtensionStore") < order.index("Federation")
    assert order.index("Engine") < order.index("Actions") < order.index("Scheduler")
    assert order.index("TemplateLibrary") < order.index("DiscordService")
    assert order[-1] == "DiscordService"


async def test_the_kernel_finds_federation_and_readiness_through_protocols(settings: Settings) -> None:
    app = build_context(settings, transport="stdio")
    async with running(app):
        sources = app.services.implementing(CapabilitySource)
        assert sources == [app.services.get(Federation)]
        checks = app.services.readiness()
        assert set(checks) == {"vault", "engine", "discord"}
        assert checks["engine"]["max_concurrent"] == settings.max_concurrent_executions
        assert checks["vault"].startswith("ok")
        assert all(isinstance(s, Readiness) for s in (app.services.get(Vault), app.services.get(Engine)))


def test_a_foreign_tools_package_on_the_path_is_refused_with_the_reason(tmp_path: Path, repo: Path) -> None:
    shadow = tmp_path / "tools"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    script = textwrap.dedent(
        """
        from hub.errors import ConfigError
        from hub.registry import Registry
        try:
            Registry.discover()
        except ConfigError as exc:
            print(exc.message)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(repo)])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"The package 'tools' imported from {shadow} is not Goosuke's own" in done.stdout
    assert "shadows the hub's" in done.stdout
