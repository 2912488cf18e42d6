"""The service door: a domain declares its service on its plugin, the hub starts it in order.

A plugin module declares::

    @plugin.service(Engine, needs=[Vault])
    def engine(app: AppContext) -> AbstractAsyncContextManager[Engine]:
        return Engine(app).running()

The factory returns the service, an awaitable of it, or an async context manager that yields it
(entered for the hub's lifetime). :func:`service_order` orders the declarations by their needs;
:func:`start_services` starts them in that order in one ``AsyncExitStack``, which stops them in
reverse. Everything else looks services up by type::

    engine = app.services.get(Engine)          # ServiceUnavailable while it is not running
    for check in app.services.implementing(Readiness): ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from hub.errors import ConfigError, ServiceUnavailable
from hub.protocols import Readiness, ReadinessReport

if TYPE_CHECKING:
    from hub.context import AppContext

T = TypeVar("T")

ServiceFactory = Callable[["AppContext"], Any]
"""``fn(app)`` returning the service, an awaitable of it, or an async context manager yielding it."""


@dataclass(frozen=True)
class ServiceSpec:
    """One ``@plugin.service(kind, needs=[...])`` declaration."""

    kind: type[Any]
    factory: ServiceFactory
    needs: tuple[type[Any], ...]
    plugin: str

    @property
    def label(self) -> str:
        return f"{self.kind.__name__} (plugin {self.plugin!r})"


class Services:
    """The running services of one hub, by type."""

    def __init__(self) -> None:
        self._running: dict[type[Any], Any] = {}

    def get(self, kind: type[T]) -> T:
        """The running service of type ``kind``.

        Raises:
            ServiceUnavailable: it is not running (yet, or any more), or no plugin declares it.
        """
        try:
            return cast(T, self._running[kind])
        except KeyError:
            raise ServiceUnavailable(
                f"The {kind.__name__} service is not running: the hub is starting or stopping, or no loaded "
                "plugin declares it. Try again in a moment."
            ) from None

    def find(self, kind: type[T]) -> T | None:
        """The running service of type ``kind``, or None."""
        return cast("T | None", self._running.get(kind))

    def implementing(self, protocol: type[T]) -> list[T]:
        """Every running service that implements ``protocol`` (a ``runtime_checkable`` Protocol)."""
        return [service for service in self._running.values() if isinstance(service, protocol)]

    def readiness_reports(self) -> dict[str, ReadinessReport]:
        """Every :class:`~hub.protocols.Readiness` service's report, by its ``readiness_name``."""
        reports: dict[str, ReadinessReport] = {}
        for service in self._running.values():
            if isinstance(service, Readiness):
                reports[service.readiness_name] = service.readiness()
        return reports

    def readiness(self) -> dict[str, Any]:
        """Every :class:`~hub.protocols.Readiness` service's ``detail``, by its ``readiness_name``."""
        return {name: report.detail for name, report in self.readiness_reports().items()}

    def not_ready(self) -> dict[str, str]:
        """The services that say the hub is not ready, each with its reason (and the fix)."""
        return {
            name: report.reason or f"The {name} service is not ready."
            for name, report in self.readiness_reports().items()
            if not report.ready
        }

    def put(self, kind: type[T], service: T) -> None:
        """Make ``service`` the running ``kind`` (start-up does this; tests may too)."""
        if not isinstance(service, kind):
            raise ConfigError(f"A {kind.__name__} service must be a {kind.__name__}, not {type(service).__name__}.")
        self._running[kind] = service

    def remove(self, kind: type[Any]) -> None:
        self._running.pop(kind, None)

    def __contains__(self, kind: type[Any]) -> bool:
        return kind in self._running

    def __iter__(self) -> Iterator[type[Any]]:
        return iter(list(self._running))


def service_order(specs: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """The declarations in start-up order: every service after the services it needs.

    Raises:
        ConfigError: a need no plugin declares, or needs that form a cycle. The message names the
            plugins involved and the fix.
    """
    by_kind = {spec.kind: spec for spec in specs}
    for spec in by_kind.values():
        for need in spec.needs:
            if need not in by_kind:
                raise ConfigError(
                    f"Service {spec.label} needs {need.__name__}, which no loaded plugin declares. Load the "
                    f"plugin that declares @plugin.service({need.__name__}), or remove the need."
                )
    ordered: list[ServiceSpec] = []
    state: dict[type[Any], str] = {}  # "visiting" | "done"

    def visit(spec: ServiceSpec, path: list[ServiceSpec]) -> None:
        mark = state.get(spec.kind)
        if mark == "done":
            return
        if mark == "visiting":
            cycle = [*path[path.index(spec) :], spec]
            raise ConfigError(
                "Services need each other in a circle: "
                + " → ".join(s.label for s in cycle)
                + ". Break the circle: one of them must not need the next."
            )
        state[spec.kind] = "visiting"
        for need in spec.needs:
            visit(by_kind[need], [*path, spec])
        state[spec.kind] = "done"
        ordered.append(spec)

    for spec in by_kind.values():  # declaration order among independent services
        visit(spec, [])
    return ordered


async def start_services(specs: Iterable[ServiceSpec], app: AppContext, stack: AsyncExitStack) -> None:
    """Start every declared service in order; ``stack`` stops them in reverse."""
    for spec in service_order(specs):
        result = spec.factory(app)
        if isinstance(result, AbstractAsyncContextManager) or hasattr(result, "__aenter__"):
            service = await stack.enter_async_context(cast(AbstractAsyncContextManager[Any], result))
        elif inspect.isawaitable(result):
            service = await result
        else:
            service = result
        app.services.put(spec.kind, service)
        stack.callback(app.services.remove, spec.kind)
